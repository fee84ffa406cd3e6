"""A red verdict, from a checkup or the early watch: the page and `release.failed`.

Also the page a firing release-scoped alert sends. On-call is paged once per release (the
page's dedup key is the release's), so a red checkup, a red watch and an alert together page
once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.domain.checkup.verdict import Verdict
from bot.domain.deploy.context import SYSTEM_ACTOR, Operations
from bot.domain.paging import Page, release_dedup_key
from bot.domain.ports import Ledger, LedgerFactory
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType, is_legal
from bot.domain.release.model import Release
from bot.domain.release.recording import record_event
from bot.domain.signals.alerts import AlertDecision, AlertStatus
from bot.domain.text import display_version

__all__ = ["PAGE_RETRY_WINDOW", "argocd_link", "build_page", "escalate", "page_for_alert"]

PAGE_RETRY_WINDOW = timedelta(minutes=15)


def argocd_link(ops: Operations, release: Release) -> str | None:
    """The release's Argo CD application page, when Herald knows where it is."""
    base = ops.argocd_url
    entry = ops.directory.services.get(release.service)
    where = entry.envs.get(release.env) if entry else None
    if not base or where is None or where.target is None:
        return None
    return f"{base.rstrip('/')}/applications/{where.target.app}"


async def escalate(
    ledger: Ledger,
    *,
    release: Release,
    verdict: Verdict,
    reason: str,
    now: datetime,
    argocd: str | None = None,
) -> None:
    """Red: page on-call once per release, and record the release as failed (`reason`)."""
    page = build_page(release, verdict)
    if argocd:
        page = replace(page, links=((argocd, "Argo CD"), *page.links))
    await ledger.enqueue_page(release_id=release.id, page=page, deadline=now + PAGE_RETRY_WINDOW)
    request = EventRequest(
        event=EventType.FAILED,
        symptom=verdict.symptom(),
        blast_radius=verdict.blast_radius(),
        pagerduty="on-call paged",
        next="rolling back"
        if release.rollback_target
        else "investigate; roll back if it gets worse",
        actor=SYSTEM_ACTOR,
        reason=reason,
    )
    if is_legal(release.state, EventType.FAILED):
        await record_event(ledger=ledger, release_id=release.id, request=request, now=now)


def build_page(release: Release, verdict: Verdict) -> Page:
    version = display_version(release.version)
    summary = (
        f"release.failed | {release.service} | {release.env} | {version} ({release.id})"
        f" — {verdict.symptom()}"
    )
    links = tuple((url, name) for name, url in release.links().items())
    return Page(
        dedup_key=release_dedup_key(release.id),
        summary=summary,
        source=f"herald/{release.service}/{release.env}",
        severity="critical",
        component=release.service,
        group=release.env,
        links=links[:5],
        custom_details={
            "release": release.id,
            "version": release.version,
            "owner": release.owner,
            "rules": list(verdict.fired_rules()),
            "findings": [f"{f.rule} {f.metric}: {f.detail}" for f in verdict.findings][:20],
        },
    )


async def page_for_alert(*, ledgers: LedgerFactory, decision: AlertDecision, now: datetime) -> None:
    """A firing, paging-severity alert on a release pages on-call (once per release)."""
    if not decision.should_page or decision.status is not AlertStatus.FIRING:
        return
    async with ledgers() as ledger:
        release = await ledger.get_release(decision.release_id)
        if release is None:
            return
        version = display_version(release.version)
        page = Page(
            dedup_key=release_dedup_key(release.id),
            summary=f"release alert | {release.service} | {release.env} | {version} "
            f"({release.id}) — {decision.summary}",
            source=f"herald/{release.service}/{release.env}",
            severity="critical",
            component=release.service,
            group=release.env,
            custom_details={"alert_fingerprint": decision.fingerprint, "release": release.id},
        )
        await ledger.enqueue_page(
            release_id=release.id, page=page, deadline=now + PAGE_RETRY_WINDOW
        )
