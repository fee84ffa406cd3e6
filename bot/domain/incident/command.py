"""Running an incident from its ops thread: hand command over, post an update, mark the
release recovered. Each goes through the service's access rules (or is the commander's own),
is audited, replied into the thread, and keeps the incident message current in place."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.checkup.verdict import Color
from bot.domain.deploy.context import Operations, Reply, audit_release, authorize
from bot.domain.incident.card import incident_notice
from bot.domain.incident.model import Incident, IncidentUpdate
from bot.domain.ports import Ledger
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Notice, Release
from bot.domain.release.recording import record_event
from bot.domain.services.directory import ServiceEnv, UnknownTarget
from bot.domain.text import Emoji, Text, User, text
from bot.domain.transactions import run_in_transaction

_FIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")


@dataclass(frozen=True)
class RedCaution:
    """Mark recovered while Herald's own checks say red: said, and asked again."""

    release_id: str
    text: Text


async def hand_over(ops: Operations, *, actor: str, release_id: str, to: str) -> Reply:
    release = await _failed(ops, release_id)
    if isinstance(release, Reply):
        return release
    if (refused := await refusal(ops, actor, release, "hand over")) is not None:
        return refused
    said = text(Emoji("large_blue_circle"), " ", User(actor), " handed command to ", User(to), ".")

    async def change(ledger: Ledger) -> None:
        incident, new = await incident_of(ledger, release_id)
        await _save(ledger, ops, release, incident.commanded_by(to, at=ops.clock()), new, said)

    await run_in_transaction(ops.ledgers, change)
    await audit_release(ops, actor=actor, action="hand_over", release=release, detail=f"to {to}")
    return Reply(True, text(User(to), " is the incident commander now."))


async def post_update(
    ops: Operations, *, actor: str, release_id: str, update: IncidentUpdate
) -> Reply:
    release = await _failed(ops, release_id)
    if isinstance(release, Reply):
        return release
    if (refused := await refusal(ops, actor, release, "post an update")) is not None:
        return refused

    async def change(ledger: Ledger) -> int:
        incident, new = await incident_of(ledger, release_id)
        updated = incident.updated(update, at=ops.clock())
        said = text(Emoji("memo"), f" Update {updated.updates} by ", User(actor), _summary(update))
        await _save(ledger, ops, release, updated, new, said)
        return updated.updates

    count = await run_in_transaction(ops.ledgers, change)
    await audit_release(
        ops, actor=actor, action="incident_update", release=release, detail=f"update {count}"
    )
    return Reply(True, text(f"Update {count} posted in the thread."))


async def link_fix(ops: Operations, *, actor: str, release_id: str, fix: str) -> Reply:
    """Name the release that will fix this one forward (its id, or a version of the
    service): when it deploys, this one is recovered with it."""
    fix = fix.strip()
    if not _FIX.fullmatch(fix):
        return Reply(False, text("Name the fix by its release id or version, e.g. 1.42.1."))
    release = await _failed(ops, release_id)
    if isinstance(release, Reply):
        return release
    if (refused := await refusal(ops, actor, release, "fix forward")) is not None:
        return refused
    said = text(
        Emoji("hammer_and_wrench"), " ", User(actor), f" will fix it forward with {fix}:"
        " when that deploys, this release is recovered.",
    )  # fmt: skip

    async def change(ledger: Ledger) -> None:
        incident, new = await incident_of(ledger, release_id)
        await _save(ledger, ops, release, incident.fixed_by(fix, at=ops.clock()), new, said)

    await run_in_transaction(ops.ledgers, change)
    await audit_release(ops, actor=actor, action="fix_forward", release=release, detail=fix)
    return Reply(True, text(f"Fix forward: {fix}. Herald marks it recovered when that deploys."))


async def mark_recovered(
    ops: Operations, *, actor: str, release_id: str, despite_red: bool = False
) -> Reply | RedCaution:
    """Record `release.recovered` (time to restore, page resolved); while the release's last
    checkup or watch says red, say so and ask again first."""
    release = await _failed(ops, release_id)
    if isinstance(release, Reply):
        return release
    if (refused := await refusal(ops, actor, release, "mark it recovered")) is not None:
        return refused
    if not despite_red and (red := await _red(ops, release)) is not None:
        return RedCaution(release_id, red)
    request = EventRequest(event=EventType.RECOVERED, actor=actor)

    async def recover(ledger: Ledger) -> bool:
        outcome = await record_event(
            ledger=ledger, release_id=release_id, request=request, now=ops.clock()
        )
        if not outcome.created:  # a second click, or another replica, recorded it first
            return False
        incident, new = await incident_of(ledger, release_id)
        said = text(Emoji("white_check_mark"), " ", User(actor), " marked it recovered.")
        await _save(ledger, ops, outcome.release, incident, new, said)
        return True

    if not await run_in_transaction(ops.ledgers, recover):
        return Reply(False, text(f"{release_id} has recovered already."))
    how = "despite red" if despite_red else ""
    await audit_release(ops, actor=actor, action="mark_recovered", release=release, detail=how)
    return Reply(True, text("Recovered: the page is resolved and the time to restore recorded."))


async def name_commander(ledger: Ledger, ops: Operations, release: Release, user: str) -> None:
    """`user` took command (the first to, by the claim): kept, and named in place."""
    incident, new = await incident_of(ledger, release.id)
    commanded = incident.commanded_by(user, at=ops.clock())
    await ledger.save_incident(commanded, new=new)
    await _enqueue_card(ledger, ops, release, commanded)


async def _failed(ops: Operations, release_id: str) -> Release | Reply:
    release = await ops.releases.by_id(release_id)
    if release is None or EventType.FAILED not in release.times:
        return Reply(False, text(f"{release_id} has no incident: it has not failed."))
    if release.state is EventType.RECOVERED:
        return Reply(False, text(f"{release_id} has recovered already."))
    return release


async def refusal(ops: Operations, actor: str, release: Release, doing: str) -> Reply | None:
    """None when `actor` commands the incident or may change the service; else the refusal,
    audited and said in the thread."""
    incident = await ops.releases.incident(release.id)
    if incident is not None and incident.commander == actor:
        return None
    refused = await _access(ops, actor, release, doing.replace(" ", "_"))
    if refused is not None:
        said = text(Emoji("no_entry"), " ", User(actor), f" tried to {doing}: ", refused.text)
        async with ops.ledgers() as ledger:
            await ledger.enqueue([Notice.note(release, said)])
    return refused


async def _access(ops: Operations, actor: str, release: Release, action: str) -> Reply | None:
    """The service's access rules; a service the catalogue does not know (its release came
    from a webhook alone) is Herald's admins' and its commander's only."""
    if release.service not in ops.directory.services:
        if actor in ops.directory.admins:
            return None
        said = f"{release.service} is not in the catalogue: its commander or an admin acts."
        await audit_release(
            ops, actor=actor, action=action, release=release, detail=said, allowed=False
        )
        return Reply(False, text(Emoji("no_entry"), " ", said))
    try:
        where = ops.directory.resolve(release.service, release.env)
    except UnknownTarget:  # an env the catalogue does not list: the service's rules still hold
        where = ServiceEnv(release.service, release.env, None)
    return await authorize(ops, actor=actor, action=action, where=where, note=False)


async def incident_of(ledger: Ledger, release_id: str) -> tuple[Incident, bool]:
    found = await ledger.lock_incident(release_id)
    return (found, False) if found is not None else (Incident(release_id), True)


async def _save(
    ledger: Ledger, ops: Operations, release: Release, incident: Incident, new: bool, said: Text
) -> None:
    await ledger.save_incident(incident, new=new)
    await _enqueue_card(ledger, ops, release, incident)
    await ledger.enqueue([Notice.note(release, said)])


async def _enqueue_card(
    ledger: Ledger, ops: Operations, release: Release, incident: Incident
) -> None:
    failed = await ledger.get_event(release_id=release.id, event=EventType.FAILED)
    if failed is not None:
        card = incident_notice(release, failed=failed.payload, incident=incident, now=ops.clock())
        await ledger.enqueue([card])


async def _red(ops: Operations, release: Release) -> Text | None:
    checkup = await ops.releases.checkup_summary(release.id)
    if checkup.last_color is Color.RED:
        return text(
            Emoji("red_circle"), f" Herald's last checkup ({checkup.last_label}) is red.",
            " Mark it recovered anyway?",
        )  # fmt: skip
    return None


def _summary(update: IncidentUpdate) -> str:
    said = "; ".join(f"{name}: {value}" for name, value in update.details().items())
    return f" — {said}" if said else "."
