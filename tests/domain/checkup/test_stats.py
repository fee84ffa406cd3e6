"""bot.domain.checkup.stats against scipy (a dev dependency) on hand-picked and random inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sp  # type: ignore[import-untyped]

from bot.domain.checkup.stats import (
    compare,
    expected_cells,
    fisher_exact_greater,
    mann_whitney_u,
    median,
    ratio,
    rise_p,
    two_proportion_z,
    wilson_lower,
)

EXACT = 1e-6  # relative, where both sides compute the same closed form


@st.composite
def two_proportions(draw: st.DrawFn, max_n: int = 5000) -> tuple[int, int, int, int]:
    n1 = draw(st.integers(1, max_n))
    n2 = draw(st.integers(1, max_n))
    return draw(st.integers(0, n1)), n1, draw(st.integers(0, n2)), n2


def scipy_z_one_sided(e1: int, n1: int, e2: int, n2: int) -> float:
    """The pooled z-test is the uncorrected chi-square test: z² = χ², one-sided = half."""
    table = [[e1, n1 - e1], [e2, n2 - e2]]
    chi2 = sp.chi2_contingency(table, correction=False).statistic
    z = math.copysign(math.sqrt(chi2), e1 / n1 - e2 / n2)
    return float(sp.norm.sf(z))


# -- two-proportion z-test -----------------------------------------------------------------


def test_z_test_known_value() -> None:
    # 31/1000 vs 4/1000: z ≈ 4.67, far in the tail.
    assert two_proportion_z(31, 1000, 4, 1000) == pytest.approx(
        scipy_z_one_sided(31, 1000, 4, 1000), rel=EXACT
    )
    assert two_proportion_z(31, 1000, 4, 1000) < 1e-5


def test_z_test_equal_or_lower_post_is_not_significant() -> None:
    assert two_proportion_z(5, 1000, 5, 1000) == pytest.approx(0.5)
    assert two_proportion_z(1, 1000, 9, 1000) > 0.9


def test_z_test_without_variance_gives_no_evidence() -> None:
    assert two_proportion_z(0, 500, 0, 800) == 1.0
    assert two_proportion_z(500, 500, 800, 800) == 1.0


@settings(max_examples=300, deadline=None)
@given(two_proportions())
def test_z_test_matches_scipy(counts: tuple[int, int, int, int]) -> None:
    e1, n1, e2, n2 = counts
    assume(0 < e1 + e2 < n1 + n2)  # some variance
    ours, theirs = two_proportion_z(*counts), scipy_z_one_sided(*counts)
    assert ours == pytest.approx(theirs, rel=EXACT, abs=1e-12)


# -- Fisher's exact test -------------------------------------------------------------------


def test_fisher_known_value() -> None:
    # 3/13 failing after vs 1/41 before.
    p = fisher_exact_greater(3, 13, 1, 41)
    assert p == pytest.approx(0.039339006042668, rel=EXACT)


def test_expected_cells() -> None:
    assert expected_cells(3, 13, 1, 41) == pytest.approx(
        (4 * 13 / 54, 50 * 13 / 54, 4 * 41 / 54, 50 * 41 / 54)
    )


@settings(max_examples=300, deadline=None)
@given(two_proportions(max_n=400))
def test_fisher_matches_scipy(counts: tuple[int, int, int, int]) -> None:
    e1, n1, e2, n2 = counts
    theirs = sp.fisher_exact([[e1, n1 - e1], [e2, n2 - e2]], alternative="greater").pvalue
    assert fisher_exact_greater(*counts) == pytest.approx(float(theirs), rel=EXACT, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 8), st.integers(100_000, 300_000), st.integers(0, 8))
def test_fisher_is_fast_and_exact_with_big_windows(e1: int, n1: int, e2: int) -> None:
    n2 = 250_000
    theirs = sp.fisher_exact([[e1, n1 - e1], [e2, n2 - e2]], alternative="greater").pvalue
    assert fisher_exact_greater(e1, n1, e2, n2) == pytest.approx(float(theirs), rel=EXACT)


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        two_proportion_z(5, 4, 0, 10)
    with pytest.raises(ValueError):
        fisher_exact_greater(0, 0, 0, 10)


@given(two_proportions(max_n=400))
@settings(max_examples=200, deadline=None)
def test_rise_p_is_fisher_for_small_cells_and_the_z_test_otherwise(
    counts: tuple[int, int, int, int],
) -> None:
    small = min(expected_cells(*counts)) < 5
    expected = fisher_exact_greater(*counts) if small else two_proportion_z(*counts)
    assert rise_p(*counts) == expected
    assert rise_p(*counts, fisher_below=0.0) == two_proportion_z(*counts)


# -- Wilson -------------------------------------------------------------------------------


def test_wilson_example_from_the_spec() -> None:
    # docs/verdict.md §3.3: 10 errors out of 20 gives a lower bound of about 0.30.
    assert wilson_lower(10, 20) == pytest.approx(0.2993, abs=1e-4)
    assert wilson_lower(0, 0) == 0.0
    assert wilson_lower(0, 50) == 0.0


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 100_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_matches_scipy(case: tuple[int, int]) -> None:
    k, n = case
    theirs = sp.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson").low
    assert wilson_lower(k, n) == pytest.approx(float(theirs), rel=EXACT, abs=1e-12)


# -- Mann-Whitney U ------------------------------------------------------------------------

samples = st.lists(st.integers(0, 30).map(float), min_size=1, max_size=70)


@settings(max_examples=300, deadline=None)
@given(samples, samples, st.sampled_from(["greater", "less"]))
def test_mann_whitney_matches_scipy(x: list[float], y: list[float], alternative: str) -> None:
    assume(len(set(x + y)) > 1)  # scipy answers NaN without variance
    theirs = sp.mannwhitneyu(
        x, y, alternative=alternative, method="asymptotic", use_continuity=True
    )
    u, p = mann_whitney_u(x, y, alternative="greater" if alternative == "greater" else "less")
    assert u == pytest.approx(float(theirs.statistic), rel=1e-12)
    assert p == pytest.approx(float(theirs.pvalue), rel=EXACT, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0, 10, allow_nan=False), min_size=2, max_size=80),
    st.lists(st.floats(0, 10, allow_nan=False), min_size=2, max_size=80),
)
def test_mann_whitney_matches_scipy_on_continuous_data(x: list[float], y: list[float]) -> None:
    assume(len(set(x + y)) > 1)
    theirs = sp.mannwhitneyu(x, y, alternative="greater", method="asymptotic")
    assert mann_whitney_u(x, y)[1] == pytest.approx(float(theirs.pvalue), rel=EXACT, abs=1e-12)


def test_mann_whitney_detects_a_shift_and_not_its_opposite() -> None:
    base = [0.20 + 0.001 * i for i in range(60)]
    post = [0.30 + 0.001 * i for i in range(60)]
    assert mann_whitney_u(post, base)[1] < 1e-10
    assert mann_whitney_u(post, base, alternative="less")[1] > 0.99


def test_mann_whitney_without_variance_gives_no_evidence() -> None:
    assert mann_whitney_u([1.0] * 5, [1.0] * 7) == (17.5, 1.0)
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])


# -- medians and comparisons ---------------------------------------------------------------


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_median_matches_numpy(values: list[float]) -> None:
    assert median(values) == pytest.approx(float(np.median(values)), rel=1e-12, abs=1e-9)


def test_median_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        median([])


def test_ratio_edges() -> None:
    assert ratio(0.0, 0.0) == 1.0
    assert ratio(1.0, 0.0) == math.inf
    assert ratio(3.0, 2.0) == 1.5


def test_identical_samples_compare_as_no_change() -> None:
    sample = [0.1 * (i % 7) for i in range(60)]
    same = compare(sample, list(reversed(sample)), alternative="greater")
    assert (same.p, same.ratio) == (1.0, 1.0)
    assert not same.worse(alpha=0.01, threshold=1.0, alternative="greater")


def test_comparison_pins_the_median_ratio() -> None:
    base = [1.0] * 30 + [100.0] * 29  # mean 50, median 1
    post = [2.0] * 30 + [2.0] * 29
    cmp = compare(post, base, alternative="greater")
    assert cmp.ratio == 2.0  # the mean ratio would be ~0.04
