"""Who must approve a release, by the service's policy and the manifest's risk tier.

Standard changes are pre-approved. A normal change needs `normal` approvals (one, or two
from different approver groups: the CAB case). An emergency is expedited: one approval, and
the release is flagged for a post-release review."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.release.manifest import Risk


class Tier(StrEnum):
    """The risk tier a release is judged at (no `risk` in the manifest: normal)."""

    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"

    @classmethod
    def of(cls, risk: Risk | None) -> Tier:
        return cls.NORMAL if risk is None else cls(risk.value)


@dataclass(frozen=True)
class ApprovalPolicy:
    """A service's `approvals:`: its approvers (Slack users `U…` or user groups `S…`)."""

    approvers: tuple[str, ...]
    normal: int = 1  # approvals a normal change needs: 1, or 2 from different approvers
    emergency: int = 1
    max_burn: float = 1.0  # the readiness checklist's error-budget burn threshold
    slo: float = 0.999


@dataclass(frozen=True)
class Need:
    """What one release needs before it may ship."""

    tier: Tier
    count: int
    distinct: bool  # each approval from a different approver (group or person)
    review: bool  # flagged for a post-release review (an emergency)

    def describe(self) -> str:
        """`2 approvals from different approver groups`, `1 approval`."""
        said = f"{self.count} approval{'s' if self.count > 1 else ''}"
        return said + (" from different approver groups" if self.distinct else "")


def need_for(policy: ApprovalPolicy | None, risk: Risk | None) -> Need | None:
    """None: the release needs no approval (no policy, or a pre-approved standard change)."""
    tier = Tier.of(risk)
    if policy is None or tier is Tier.STANDARD:
        return None
    if tier is Tier.EMERGENCY:
        return Need(tier, count=policy.emergency, distinct=False, review=True)
    return Need(tier, count=policy.normal, distinct=policy.normal > 1, review=False)
