"""The readiness checklist an approver reads, evaluated when the request is shown: rollback
rehearsed, flags off by default, requirements met, no open incident, error budget not
burning, no freeze. It informs the approver; it decides nothing on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.approval.policy import ApprovalPolicy
from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.gate.requirements import check_requirement
from bot.domain.ports import ReleaseReader
from bot.domain.release.model import Release
from bot.domain.text import utc_stamp
from bot.errors import DomainError

INCIDENT_LOOKBACK = timedelta(days=7)


class BurnUnknown(DomainError):
    """The error-budget burn could not be read (Prometheus unreachable, no traffic)."""


class BurnGauge(Protocol):
    """The service's error-budget burn over the last hour: error ratio ÷ (1 - SLO)."""

    async def burn(self, *, service: str, env: str, slo: float, at: datetime) -> float: ...


@dataclass(frozen=True)
class Check:
    code: str  # rehearsed, flags, requires, incident, burn, freeze
    ok: bool | None  # None: Herald could not tell
    message: str


async def evaluate_readiness(
    *,
    release: Release,
    policy: ApprovalPolicy,
    releases: ReleaseReader,
    freezes: FreezeCalendar,
    burn: BurnGauge | None,
    now: datetime,
) -> tuple[Check, ...]:
    """Every item, each said as a sentence."""
    return (
        await _rehearsed(release, releases, now),
        _flags(release),
        await _requirements(release, releases),
        await _incident(release, releases, now),
        await _burn(release, policy, burn, now),
        _freeze(release, freezes, now),
    )


async def _rehearsed(release: Release, releases: ReleaseReader, now: datetime) -> Check:
    rehearsal = await releases.rehearsal_of(release)
    if rehearsal is None:
        return Check("rehearsed", False, "Rollback not rehearsed in another env.")
    return Check("rehearsed", rehearsal.passed, f"{rehearsal.describe(now=now)}.")


def _flags(release: Release) -> Check:
    manifest = release.manifest
    if not manifest.flags:
        return Check("flags", True, "No feature flags.")
    unsafe = manifest.flags_without_safe_default()
    if unsafe:
        return Check("flags", False, f"No safe (off) default declared for {', '.join(unsafe)}.")
    return Check("flags", True, f"Flags off by default: {', '.join(manifest.flag_keys())}.")


async def _requirements(release: Release, releases: ReleaseReader) -> Check:
    needs = release.manifest.requires
    if not needs:
        return Check("requires", True, "Requires no other service.")
    reasons = [await check_requirement(releases, release, need) for need in needs]
    unmet = [reason.message for reason in reasons if reason.code == "requires_unmet"]
    if unmet:
        return Check("requires", False, " ".join(unmet))
    return Check("requires", True, " ".join(reason.message for reason in reasons))


async def _incident(release: Release, releases: ReleaseReader, now: datetime) -> Check:
    since = now - INCIDENT_LOOKBACK
    failed = await releases.failed_unrecovered(since=since, service=release.service)
    if failed:
        names = ", ".join(f"{other.id} ({other.env})" for other in failed)
        return Check("incident", False, f"Open incident on {release.service}: {names}.")
    return Check("incident", True, f"No open incident on {release.service}.")


async def _burn(
    release: Release, policy: ApprovalPolicy, burn: BurnGauge | None, now: datetime
) -> Check:
    if burn is None:
        return Check("burn", None, "Error-budget burn unknown: Herald reads no Prometheus.")
    try:
        rate = await burn.burn(service=release.service, env=release.env, slo=policy.slo, at=now)
    except BurnUnknown as exc:
        return Check("burn", None, f"Error-budget burn unknown: {exc}.")
    said = f"Error-budget burn {rate:.2f}× over the last hour (threshold {policy.max_burn:g}×)."
    return Check("burn", rate < policy.max_burn, said)


def _freeze(release: Release, freezes: FreezeCalendar, now: datetime) -> Check:
    holding = freezes.holding(release.service, release.env, at=now)
    if holding:
        first = holding[0]
        said = f"Frozen until {utc_stamp(first.end)} ({first.name}: {first.reason})."
        return Check("freeze", False, said)
    return Check("freeze", True, f"No freeze holds {release.service} in {release.env}.")
