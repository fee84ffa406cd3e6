"""Hand-built release histories with known DORA answers, in one 30-day window.

The pure report (tests/domain/dora/test_report.py), the SQL queries (tests/store/test_dora.py)
and the HTTP API (tests/scenarios/test_dora_api.py) are each checked on them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone

from bot.domain.dora.reference import ReleaseFacts
from bot.domain.dora.window import DoraWindow
from bot.domain.release.lifecycle import EventType

E = EventType
END = datetime(2025, 11, 1, tzinfo=UTC)
WINDOW = DoraWindow.ending(END, timedelta(days=30))  # 2025-10-02 → 2025-11-01
START = WINDOW.start
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Story:
    """One release's history: the store test records it, the pure side reads its facts."""

    id: str
    events: tuple[tuple[EventType, datetime], ...]
    service: str = "webapp"
    env: str = "prod"
    lead_time_seconds: float | None = None
    committed_at: datetime | None = None
    risk: str | None = None

    def facts(self) -> ReleaseFacts:
        return ReleaseFacts.from_events(
            service=self.service,
            env=self.env,
            events=self.events,
            lead_time_seconds=self.lead_time_seconds,
            committed_at=self.committed_at,
            hotfix=self.risk == "emergency",
        )

    def shifted(self, zone: timezone) -> Story:
        """The same instants written in another time zone."""
        return replace(
            self,
            events=tuple((e, at.astimezone(zone)) for e, at in self.events),
            committed_at=self.committed_at.astimezone(zone) if self.committed_at else None,
        )


def deploy(
    rid: str,
    at: datetime,
    *after: tuple[EventType, datetime],
    lead: float | None = 3600.0,
    **kwargs: object,
) -> Story:
    """A release started 5 minutes before `at`, deployed at `at`, then `after`."""
    events = ((E.STARTED, at - 5 * MIN), (E.DEPLOYED, at), *after)
    return Story(rid, events, lead_time_seconds=lead, **kwargs)  # type: ignore[arg-type]


def facts(stories: list[Story]) -> list[ReleaseFacts]:
    return [s.facts() for s in stories]


# -- the histories -----------------------------------------------------------------------


def month_of_webapp() -> list[Story]:
    """10 deploys in the window (leads 1000…10000 s, one a week at least), 3 failures
    restored in 30, 60 and 90 minutes (one rolled back), one hotfix; 4 deploys before."""
    stories = []
    for i in range(10):
        at = START + (i * 3 + 1) * DAY + 10 * HOUR
        after: list[tuple[EventType, datetime]] = []
        if i == 2:
            after = [(E.FAILED, at + HOUR), (E.ROLLED_BACK, at + HOUR + 5 * MIN)]
            after.append((E.RECOVERED, at + HOUR + 30 * MIN))
        elif i == 5:
            after = [(E.FAILED, at + 2 * HOUR), (E.RECOVERED, at + 3 * HOUR)]
        elif i == 8:
            after = [(E.FAILED, at + 20 * MIN), (E.RECOVERED, at + 110 * MIN)]
        stories.append(
            deploy(
                f"web-{i}",
                at,
                *after,
                lead=1000.0 * (i + 1),
                risk="emergency" if i == 6 else None,
            )
        )
    stories += [deploy(f"web-prev-{i}", START - (i + 2) * DAY) for i in range(4)]
    return stories


def failure_never_recovered() -> list[Story]:
    stories = [deploy(f"nr-{i}", START + (i + 1) * DAY) for i in range(5)]
    at = START + 10 * DAY
    stories.append(deploy("nr-bad", at, (E.FAILED, at + HOUR)))
    return stories


def rollback_counted_once() -> list[Story]:
    """A hotfix that failed and was rolled back: one failed deploy, one rework, not two."""
    stories = [deploy(f"rb-{i}", START + (i + 1) * DAY) for i in range(4)]
    at = START + 8 * DAY
    stories.append(
        deploy(
            "rb-hotfix",
            at,
            (E.FAILED, at + 10 * MIN),
            (E.ROLLED_BACK, at + 12 * MIN),
            (E.RECOVERED, at + 40 * MIN),
            risk="emergency",
        )
    )
    return stories


def several_failures_of_one_release() -> list[Story]:
    """Failure reported three times (alert, red verdict, incident), rolled back, recovered:
    the first report counts, the release once."""
    stories = [deploy(f"sf-{i}", START + (i + 1) * DAY) for i in range(4)]
    at = START + 12 * DAY
    stories.append(
        deploy(
            "sf-bad",
            at,
            (E.FAILED, at + 10 * MIN),
            (E.FAILED, at + 20 * MIN),
            (E.FAILED, at + 30 * MIN),
            (E.ROLLED_BACK, at + 35 * MIN),
            (E.RECOVERED, at + 70 * MIN),
        )
    )
    return stories


def across_the_window_edges() -> list[Story]:
    early = START - 2 * HOUR
    late = END - 30 * MIN
    return [
        deploy("edge-before", START - timedelta(seconds=1)),  # previous window
        deploy("edge-start", START),  # in: the start is inclusive
        deploy("edge-last", END - timedelta(seconds=1)),  # in, day index 0
        deploy("edge-end", END),  # out: the end is exclusive
        # deployed before the window, failed and recovered in it: a restore, not a failed deploy
        deploy("edge-old-fail", early, (E.FAILED, START + HOUR), (E.RECOVERED, START + 2 * HOUR)),
        # deployed in it, failed after it: a failed deploy of this window; restore belongs later
        deploy("edge-late-fail", late, (E.FAILED, END + HOUR), (E.RECOVERED, END + 3 * HOUR)),
        *(deploy(f"edge-{i}", START + (i + 2) * DAY) for i in range(3)),
    ]


def commit_lead_times() -> list[Story]:
    """Lead time from the manifest's commit timestamps (no lead_time_seconds sent)."""
    stories = []
    for i in range(6):
        at = START + (i + 1) * DAY
        stories.append(deploy(f"commit-{i}", at, lead=None, committed_at=at - (i + 1) * 2 * HOUR))
    stories.append(deploy("commit-none", START + 9 * DAY, lead=None))  # no commit time: no lead
    stories.append(deploy("commit-zero", START + 10 * DAY, lead=0.0))  # ≤ 0: dropped
    return stories


def sub_second_instants() -> list[Story]:
    """Microseconds everywhere: both databases must give the pure answers to the bit."""
    stories = []
    for i in range(6):
        at = START + (i + 1) * DAY + timedelta(seconds=i, microseconds=123457 * (i + 1))
        failed = at + timedelta(minutes=5, microseconds=999999 - i)
        recovered = failed + timedelta(seconds=1234 + i, microseconds=567891 * i % 1000000)
        stories.append(
            deploy(
                f"us-{i}",
                at,
                (E.FAILED, failed),
                (E.RECOVERED, recovered),
                lead=1000.000001 * (i + 1),
            )
        )
    return stories


def other_services() -> list[Story]:
    at = START + 3 * DAY
    return [
        deploy("api-1", at, service="api"),
        deploy("api-2", at + DAY, (E.FAILED, at + DAY + HOUR), service="api"),
        deploy("web-staging-1", at, env="staging"),
        Story("api-never", ((E.STARTED, at), (E.FAILED, at + MIN)), service="api"),
    ]


HISTORIES = {
    "no deploys": list[Story](),
    "a month of webapp": month_of_webapp(),
    "a failure never recovered": failure_never_recovered(),
    "a rollback counted once": rollback_counted_once(),
    "several failures of one release": several_failures_of_one_release(),
    "releases across a window edge": across_the_window_edges(),
    "lead time from commit timestamps": commit_lead_times(),
    "sub-second instants": sub_second_instants(),
    "everything, several services": [
        *month_of_webapp(),
        *[replace(s, id=f"x-{s.id}") for s in rollback_counted_once()],
        *other_services(),
    ],
}
ZONES = (
    timezone(timedelta(hours=9)),
    timezone(timedelta(hours=-7)),
    timezone(timedelta(hours=5, minutes=30)),
)
