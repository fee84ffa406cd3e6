"""The on-call from PagerDuty: may change releases, and is named incident commander once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.deploy.commander import CommanderJob, take_command
from bot.domain.deploy.context import Operations
from bot.domain.ports import AuditEntry, Claim, HeldClaim, OpenClaim
from bot.domain.release.events import EventPayload
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Audience, RecordedEvent, Release
from bot.domain.services.access import GroupLookupError, check_access
from bot.domain.services.directory import Directory, ServiceEntry
from bot.domain.services.oncall import OnCallLookupError
from bot.examples import example_manifest
from bot.slack.mrkdwn import render
from tests.fakes import MemoryLedgers

WEBAPP = ServiceEntry("webapp", owners=("U_OWNER", "S_BILLING"))
NOW = datetime(2025, 10, 2, 21, 0, tzinfo=UTC)


class Groups:
    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken

    async def members(self, group_id: str) -> frozenset[str]:
        if self.broken:
            raise GroupLookupError("Slack answered ratelimited")
        return frozenset()


class OnCall:
    def __init__(self, users: dict[str, set[str]], *, broken: bool = False) -> None:
        self.users = users
        self.broken = broken
        self.asked: list[str] = []

    async def on_call(self, service: str) -> frozenset[str]:
        self.asked.append(service)
        if self.broken:
            raise OnCallLookupError("PagerDuty did not answer in 5 s")
        return frozenset(self.users.get(service, set()))


class Audit:
    def __init__(self) -> None:
        self.claims: dict[str, Claim] = {}
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    async def claim(self, *, key: str, actor: str, at: datetime, attempt: int = 1) -> Claim:
        if key in self.claims:
            return Claim(False, self.claims[key].holder, self.claims[key].at)
        self.claims[key] = Claim(True, actor, at)
        return self.claims[key]

    async def open_claims(
        self, *, key_prefix: str, holder_prefix: str, before: datetime
    ) -> list[OpenClaim]:
        return []

    async def last_claim(self, key: str) -> HeldClaim | None:
        held = self.claims.get(key)
        return HeldClaim(1, held.holder, held.at) if held else None

    async def finish_claim(self, *, key: str, attempt: int, left: str, at: datetime) -> None:
        return None


class Releases:
    def __init__(self, ledgers: MemoryLedgers) -> None:
        self.ledgers = ledgers

    async def failed_unrecovered(self, *, since: datetime) -> list[Release]:
        return [
            r
            for r in self.ledgers.ledger.releases.values()
            if r.times.get(EventType.FAILED, since - timedelta(1)) >= since
            and EventType.RECOVERED not in r.times
        ]


# -- who may act -------------------------------------------------------------------------


async def test_the_on_call_may_act_and_is_told_why() -> None:
    oncall = OnCall({"webapp": {"U_ONCALL"}})
    decision = await check_access(
        user="U_ONCALL", entry=WEBAPP, admins=(), groups=Groups(), oncall=oncall
    )
    assert decision.allowed
    assert render(decision.reason) == "<@U_ONCALL> is on call for webapp (PagerDuty)"


async def test_a_stranger_is_refused_and_told_who_is_on_call() -> None:
    oncall = OnCall({"webapp": {"U_ONCALL"}})
    decision = await check_access(
        user="U_STRANGER", entry=WEBAPP, admins=(), groups=Groups(), oncall=oncall
    )
    assert not decision.allowed
    assert render(decision.reason) == (
        "Only owners of webapp (<@U_OWNER>, <!subteam^S_BILLING>), its on-call (<@U_ONCALL>) "
        "and admins may do that."
    )


async def test_a_failed_on_call_lookup_grants_nothing_and_says_so() -> None:
    oncall = OnCall({"webapp": {"U_ONCALL"}}, broken=True)
    decision = await check_access(
        user="U_ONCALL", entry=WEBAPP, admins=(), groups=Groups(), oncall=oncall
    )
    assert not decision.allowed
    assert "could not check the on-call of webapp (PagerDuty did not answer in 5 s)" in (
        render(decision.reason)
    )
    both = await check_access(
        user="U_ONCALL", entry=WEBAPP, admins=(), groups=Groups(broken=True), oncall=oncall
    )
    assert "could not check membership of <!subteam^S_BILLING>" in render(both.reason)
    assert "or the on-call of webapp" in render(both.reason)


async def test_owners_need_no_on_call_lookup() -> None:
    oncall = OnCall({}, broken=True)
    decision = await check_access(
        user="U_OWNER", entry=WEBAPP, admins=(), groups=Groups(), oncall=oncall
    )
    assert decision.allowed and oncall.asked == []


# -- the incident commander ----------------------------------------------------------------


def failed_release(release_id: str = "rel-9", *, at: datetime = NOW) -> Release:
    manifest = Manifest.model_validate({**example_manifest(), "id": release_id})
    times = {EventType.DEPLOYED: at - timedelta(minutes=20), EventType.FAILED: at}
    return Release(
        manifest=manifest, digest="d", received_at=at, state=EventType.FAILED, times=times
    )


def world(oncall: OnCall) -> tuple[Operations, MemoryLedgers, Audit]:
    ledgers, audit = MemoryLedgers(), Audit()
    ops = Operations(
        deploy=None,
        groups=Groups(),
        releases=Releases(ledgers),  # type: ignore[arg-type]  # only failed_unrecovered
        audit=audit,
        ledgers=ledgers,
        directory=Directory(services={"webapp": WEBAPP}),
        clock=lambda: NOW + timedelta(minutes=1),
        oncall=oncall,
    )
    return ops, ledgers, audit


def notes(ledgers: MemoryLedgers) -> list[str]:
    return [render(n.text) for n in ledgers.ledger.outbox if n.audience is Audience.OPS_THREAD]


async def test_the_on_call_is_named_once_even_after_a_restart() -> None:
    oncall = OnCall({"webapp": {"U_ONCALL", "U_SECOND"}})
    ops, ledgers, audit = world(oncall)
    release = failed_release()
    ledgers.ledger.releases[release.id] = release
    assert await CommanderJob(ops=ops, oncall=oncall).run() == 1
    assert await CommanderJob(ops=ops, oncall=oncall).run() == 0  # a restarted Herald
    assert notes(ledgers) == [
        ":large_blue_circle: <@U_ONCALL> is the incident commander for rel-9 "
        "(on call in PagerDuty)."
    ]
    later = await take_command(ops, actor="U_OWNER", release_id=release.id)
    assert render(later.text) == "<@U_ONCALL> took command at 21:01 UTC."
    mine = await take_command(ops, actor="U_ONCALL", release_id=release.id)
    assert render(mine.text) == "You are the incident commander since 21:01 UTC."
    assert [e.detail for e in audit.entries] == ["named by Herald: on call in PagerDuty"]


async def test_whoever_took_command_first_keeps_it() -> None:
    oncall = OnCall({"webapp": {"U_ONCALL"}})
    ops, ledgers, _ = world(oncall)
    release = failed_release()
    ledgers.ledger.releases[release.id] = release
    assert (await take_command(ops, actor="U_OWNER", release_id=release.id)).ok
    assert await CommanderJob(ops=ops, oncall=oncall).run() == 0
    assert notes(ledgers) == [":large_blue_circle: <@U_OWNER> is the incident commander for rel-9."]


async def test_nobody_is_named_without_an_on_call_or_when_ci_named_one() -> None:
    oncall = OnCall({}, broken=True)
    ops, ledgers, _ = world(oncall)
    release = failed_release()
    old = failed_release("rel-old", at=NOW - timedelta(hours=3))
    ledgers.ledger.releases.update({release.id: release, old.id: old})
    assert await CommanderJob(ops=ops, oncall=oncall).run() == 0  # PagerDuty down: later
    assert oncall.asked == ["webapp"]  # the release that failed 3 hours ago is left alone
    oncall.broken = False
    assert await CommanderJob(ops=ops, oncall=oncall).run() == 0  # nobody on call
    oncall.users["webapp"] = {"U_ONCALL"}
    payload = EventPayload.build(
        event=EventType.FAILED,
        release_id=release.id,
        service="webapp",
        env="prod",
        version=release.version,
        owner=release.owner,
        at=NOW,
        links={},
        details={"commander": "U_CI_NAMED"},
    )
    ledgers.ledger.events.append(
        RecordedEvent(release.id, EventType.FAILED, NOW, payload, received_at=NOW)
    )
    assert await CommanderJob(ops=ops, oncall=oncall).run() == 0
    assert notes(ledgers) == []
