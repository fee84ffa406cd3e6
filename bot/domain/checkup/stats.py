"""The statistics behind verdicts, in plain Python (no numpy or scipy at run time).

Every test here is one-sided and asks "is the post-release sample worse?". p-values are
clipped to [0, 1]. Degenerate inputs (no variance at all) give p = 1: no evidence.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Comparison",
    "compare",
    "expected_cells",
    "fisher_exact_greater",
    "mann_whitney_u",
    "median",
    "normal_sf",
    "ratio",
    "rise_p",
    "two_proportion_z",
    "wilson_lower",
]

Alternative = Literal["greater", "less"]


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z, accurate in the far tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _clip(p: float) -> float:
    return min(1.0, max(0.0, p))


def _check_counts(e1: int, n1: int, e2: int, n2: int) -> None:
    if not (0 <= e1 <= n1 and 0 <= e2 <= n2) or n1 == 0 or n2 == 0:
        raise ValueError(f"bad counts: {e1}/{n1} vs {e2}/{n2}")


def two_proportion_z(e1: int, n1: int, e2: int, n2: int) -> float:
    """One-sided pooled two-proportion z-test: p-value for "e1/n1 > e2/n2"."""
    _check_counts(e1, n1, e2, n2)
    pooled = (e1 + e2) / (n1 + n2)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    if se == 0.0:
        return 1.0
    return _clip(normal_sf((e1 / n1 - e2 / n2) / se))


def expected_cells(e1: int, n1: int, e2: int, n2: int) -> tuple[float, float, float, float]:
    """Expected counts of the 2x2 table [[e1, n1-e1], [e2, n2-e2]] under independence."""
    total, bad = n1 + n2, e1 + e2
    good = total - bad
    return (n1 * bad / total, n1 * good / total, n2 * bad / total, n2 * good / total)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_greater(e1: int, n1: int, e2: int, n2: int) -> float:
    """Fisher's exact test, one-sided: p-value for "e1/n1 > e2/n2".

    P(X >= e1) where X is hypergeometric: n1 draws from n1+n2 items of which e1+e2 are bad.
    """
    _check_counts(e1, n1, e2, n2)
    total, bad = n1 + n2, e1 + e2
    top = min(bad, n1)
    log_all = _log_comb(total, n1)
    logs = [
        _log_comb(bad, k) + _log_comb(total - bad, n1 - k) - log_all for k in range(e1, top + 1)
    ]
    if not logs:
        return 0.0
    peak = max(logs)
    return _clip(math.exp(peak) * math.fsum(math.exp(x - peak) for x in logs))


def rise_p(e1: int, n1: int, e2: int, n2: int, *, fisher_below: float = 5.0) -> float:
    """One-sided p that e1/n1 is above e2/n2: the pooled z-test, or Fisher's exact test when
    an expected cell of the 2x2 table is below ``fisher_below``."""
    if min(expected_cells(e1, n1, e2, n2)) < fisher_below:
        return fisher_exact_greater(e1, n1, e2, n2)
    return two_proportion_z(e1, n1, e2, n2)


def wilson_lower(errors: int, n: int, *, confidence: float = 0.95) -> float:
    """Lower end of the two-sided Wilson score interval for a proportion (0 if n is 0)."""
    if n <= 0:
        return 0.0
    if not 0 <= errors <= n:
        raise ValueError(f"bad counts: {errors}/{n}")
    z = statistics.NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    p, z2 = errors / n, z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - spread) / (1.0 + z2 / n))


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Average ranks (1-based) of `values` and the sizes of their tie groups."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def mann_whitney_u(
    x: Sequence[float], y: Sequence[float], *, alternative: Alternative = "greater"
) -> tuple[float, float]:
    """One-sided Mann-Whitney U test with the normal approximation, tie correction and
    continuity correction (R's ``wilcox.test(correct=TRUE)``).

    Returns ``(U_x, p)`` where ``p`` is for "x tends to be greater than y" (``"greater"``)
    or "x tends to be less than y" (``"less"``). No variance at all gives p = 1.
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    ranks, ties = _ranks([*x, *y])
    u = math.fsum(ranks[:n1]) - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    tie_term = sum(t**3 - t for t in ties) / (n * (n - 1)) if n > 1 else 0.0
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if variance <= 0.0:
        return u, 1.0
    mean = n1 * n2 / 2.0
    if alternative == "greater":
        z = (u - mean - 0.5) / math.sqrt(variance)
    else:
        z = (mean - u - 0.5) / math.sqrt(variance)
    return u, _clip(normal_sf(z))


def median(values: Sequence[float]) -> float:
    """The median (mean of the middle two for an even count); ValueError if empty."""
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def ratio(post: float, base: float) -> float:
    """``post / base`` rounded to 9 places (so 0.6 / 0.4 is 1.5); 1 when both are 0 and +inf
    when only ``base`` is."""
    if base == 0.0:
        return 1.0 if post == 0.0 else math.inf
    return round(post / base, 9)


@dataclass(frozen=True)
class Comparison:
    """A post-release sample against its baseline (Kayenta-like, median ratio pinned)."""

    post_median: float
    base_median: float
    ratio: float  # median(post) / median(base)
    p: float  # one-sided Mann-Whitney p-value that post is worse

    def worse(self, *, alpha: float, threshold: float, alternative: Alternative) -> bool:
        """Significantly worse and past the ratio threshold (≥ for increases, ≤ for drops)."""
        if self.p >= alpha:
            return False
        return self.ratio >= threshold if alternative == "greater" else self.ratio <= threshold


def compare(
    post: Sequence[float], base: Sequence[float], *, alternative: Alternative
) -> Comparison:
    """Compare two non-empty samples; identical samples give p = 1 (no noise is added)."""
    post_median, base_median = median(post), median(base)
    if sorted(post) == sorted(base):
        p = 1.0
    else:
        p = mann_whitney_u(post, base, alternative=alternative)[1]
    return Comparison(post_median, base_median, ratio(post_median, base_median), p)
