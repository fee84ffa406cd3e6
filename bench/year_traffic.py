"""A year of a large Argo CD installation's traffic through Herald, as rows, written in bulk.

Sized from what each deploy makes Herald store (assumptions, per year):

- 500 services x 10 deploys a week = 260,000 releases (85 % prod); each has planned, started
  and deployed events, and 5 % fail and are rolled back (+2): ~830,000 `release_events`.
- Inbox, per release: 3 Argo CD notifications (sync running, sync succeeded, deployed),
  3 Argo Rollouts ones (two steps completed, rollout completed); one release in ten trips an
  Alertmanager group (firing, then resolved); one in two gets a `/deploy` command or a
  button press from Slack (with its audit row): ~6.7 keys a release, ~1.7 M a year.
- Outbox, per release: 5 Slack posts (feed root, started, deployed, release notes, the early
  watch's live line) and 6 edits of that line (5 replaced by a newer one, the last sent),
  a PagerDuty change event per prod deploy, a page and its resolve per failure: ~12 rows,
  ~3.1 M a year; 1 post in 1,000 is a dead letter. Every post leaves a `slack_messages` row.
- Bodies are the sizes Herald writes: ~1.1 KB for a post (Block Kit), ~0.35 KB for an edit.

Rows are generated in time order (seeded), ending now, and written with `executemany` into
two migrated SQLite files at once: every row (a year without retention), and only the rows
the retention keeps at the year's end with the default settings (inbox 14 days, delivered
Slack outbox rows 30 days; the rest for ever) — what an hourly prune leaves behind.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.dora import sqlite_text

SERVICES = 500
DEPLOYS_PER_WEEK = 10
YEAR = timedelta(days=365)
INBOX_KEPT = timedelta(days=14)
OUTBOX_KEPT = timedelta(days=30)
SEED = 20261202
CHUNK = 20_000
FEED, OPS = "CFEED", "COPS"
POST_ROLES = ("feed_root", "event:release.started", "event:release.deployed", "notes", "watch")
EDITS = 6
COLUMNS = {
    "releases": "id service env version owner state manifest digest revision received_at "
    "planned_at started_at deployed_at failed_at rolled_back_at recovered_at lead_time_seconds "
    "links",
    "release_events": "release_id type at received_at idempotency_key payload",
    "inbox": "key source received_at request done_at claimed_by claimed_at attempts",
    "outbox": "id release_id sink dedup_key channel role thread_role event_type body operation "
    "state urgent attempts ambiguous next_attempt_at lease_until last_error created_at sent_at ts",
    "slack_messages": "release_id channel ts thread_ts role event_type outbox_id posted_at",
    "audit": "at actor action decision outcome service env release_id args detail response "
    "correlation_id",
}


def _blob(size: int, kind: str) -> str:
    """A JSON body of about `size` bytes, shaped like a rendered Slack message."""
    words = "release webapp prod deployed lead time checks green owner team billing " * 40
    text = words[: max(0, size - 160)]
    block = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    return json.dumps({"text": text[:80], "blocks": [block], "kind": kind})


POST_BODY = _blob(1100, "post")
EDIT_BODY = _blob(350, "edit")
PAGE_BODY = _blob(600, "pagerduty")
EVENT_PAYLOAD = _blob(350, "event")


def service_names() -> list[str]:
    """`webapp` (the service `/deploy status` asks about) and 499 others."""
    return ["webapp", *(f"svc-{n:03d}" for n in range(1, SERVICES))]


@dataclass
class Counts:
    written: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, kept: bool) -> None:
        self.written[table] = self.written.get(table, 0) + 1
        if kept:
            self.kept[table] = self.kept.get(table, 0) + 1


class Writer:
    """Rows to both files (or to the full one only), in batches, one transaction each."""

    def __init__(self, full: Path, kept: Path) -> None:
        self._full = sqlite3.connect(full, isolation_level=None)
        self._kept = sqlite3.connect(kept, isolation_level=None)
        self._batches: dict[str, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = {}
        self.counts = Counts()
        for conn in (self._full, self._kept):
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("BEGIN")

    def add(self, table: str, row: tuple[Any, ...], *, kept: bool = True) -> None:
        values = tuple(sqlite_text(v) if isinstance(v, datetime) else v for v in row)
        full, keep = self._batches.setdefault(table, ([], []))
        full.append(values)
        if kept:
            keep.append(values)
        self.counts.add(table, kept)
        if len(full) >= CHUNK:
            self._flush(table)

    def _flush(self, table: str) -> None:
        columns = COLUMNS[table].split()
        statement = (
            f"INSERT INTO {table} ({','.join(columns)}) VALUES ({','.join('?' * len(columns))})"
        )
        full, keep = self._batches.pop(table, ([], []))
        self._full.executemany(statement, full)
        self._kept.executemany(statement, keep)

    def close(self) -> None:
        for table in list(self._batches):
            self._flush(table)
        for conn in (self._full, self._kept):
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()


@dataclass
class Year:
    end: datetime
    rng: random.Random
    writer: Writer
    scale: float = 1.0  # a fraction of the year's releases, for a smoke test
    outbox_id: int = 0
    slack_ts: int = 0

    def releases(self) -> Iterator[tuple[int, str, str, datetime]]:
        names = service_names()
        total = int(SERVICES * DEPLOYS_PER_WEEK * 52 * self.scale)
        step = YEAR.total_seconds() / total
        start = self.end - YEAR
        for index in range(total):
            at = start + timedelta(seconds=index * step + self.rng.random() * step)
            yield (
                index,
                names[index % SERVICES],
                "prod" if self.rng.random() < 0.85 else "staging",
                at,
            )

    def release(self, index: int, service: str, env: str, at: datetime) -> None:
        rid = f"{service}-{index:07d}"
        failed = self.rng.random() < 0.05
        manifest = {
            "id": rid,
            "version": f"1.{index // 1000}.{index % 1000}",
            "env": env,
            "service": service,
            "git": {"repo": f"github.com/acme/{service}", "commit": f"{index:07x}"},
            "changes": [{"type": "feat", "summary": "change", "issues": []}],
            "owner": f"team-{service}",
            "created_at": at.isoformat(),
        }
        started, deployed = at + timedelta(minutes=2), at + timedelta(minutes=10)
        state = "release.rolled_back" if failed else "release.deployed"
        rolled_at = deployed + timedelta(minutes=25)
        rolled = rolled_at if failed else None
        self.writer.add(
            "releases",
            (
                rid,
                service,
                env,
                manifest["version"],
                manifest["owner"],
                state,
                json.dumps(manifest),
                f"{index:032x}",
                4,
                at,
                at,
                started,
                deployed,
                deployed + timedelta(minutes=20) if failed else None,
                rolled,
                None,
                28800.0,
                "{}",
            ),
        )
        events = [("planned", at), ("started", started), ("deployed", deployed)]
        if failed:
            events += [("failed", deployed + timedelta(minutes=20)), ("rolled_back", rolled_at)]
        for kind, when in events:
            self.writer.add(
                "release_events", (rid, f"release.{kind}", when, when, None, EVENT_PAYLOAD)
            )
        self.inbox(rid, service, index, at)
        self.outbox(rid, env, at, failed=failed)

    def inbox(self, rid: str, service: str, index: int, at: datetime) -> None:
        app, kept_after = f"argocd/{service}-prod", self.end - INBOX_KEPT
        keys = [
            (f"argocd:{app}:{index:07x}:{t}", "argocd", at + timedelta(minutes=m))
            for t, m in (("on-sync-running", 1), ("on-sync-succeeded", 9), ("on-deployed", 10))
        ]
        keys += [
            (f"rollouts:{service}/{service}:{index:09x}:{t}", "rollouts", at + timedelta(minutes=m))
            for t, m in (
                ("on-rollout-step-completed-1", 4),
                ("on-rollout-step-completed-2", 7),
                ("on-rollout-completed", 9),
            )
        ]
        if index % 10 == 3:
            for status, m in (("firing", 20), ("resolved", 50)):
                keys.append(
                    (
                        f"alertmanager:{{}}:{rid}:fp:{status}",
                        "alertmanager",
                        at + timedelta(minutes=m),
                    )
                )
        if index % 2 == 0:
            when = at + timedelta(minutes=15)
            keys.append((f"slack:trigger:{index}.{self.rng.getrandbits(40)}", "slack", when))
            self.writer.add(
                "audit",
                (
                    when,
                    "U0OWNER",
                    "status",
                    "allowed",
                    "ok",
                    service,
                    "prod",
                    rid,
                    "{}",
                    "",
                    "",
                    None,
                ),
            )
        for key, source, when in keys:
            done = when if source == "slack" else None
            row = (key, source, when, None, done, None, None, 0)
            self.writer.add("inbox", row, kept=when >= kept_after)

    def outbox(self, rid: str, env: str, at: datetime, *, failed: bool) -> None:
        kept_after = self.end - OUTBOX_KEPT
        root_ts = ""
        for n, role in enumerate(POST_ROLES):
            when = at + timedelta(minutes=2 * n)
            dead = self.rng.random() < 0.001
            ts = self._post(
                rid, role, when, state="dead" if dead else "sent", kept=dead or when >= kept_after
            )
            if role == "feed_root":
                root_ts = ts
            if ts and not dead:
                self.writer.add(
                    "slack_messages",
                    (
                        rid,
                        FEED,
                        ts,
                        None if role == "feed_root" else root_ts,
                        role,
                        None,
                        self.outbox_id,
                        when,
                    ),
                )
        for n in range(EDITS):
            when = at + timedelta(minutes=10 + 5 * n)
            self._row(
                rid,
                "slack",
                FEED,
                "watch",
                EDIT_BODY,
                "update",
                "sent" if n == EDITS - 1 else "replaced",
                when,
                kept=when >= kept_after,
            )
        pages = (["change_event"] if env == "prod" else []) + (
            ["page_trigger", "page_resolve"] if failed else []
        )
        for role in pages:
            self._row(rid, "pagerduty", "pagerduty", role, PAGE_BODY, "post", "sent", at, kept=True)

    def _post(self, rid: str, role: str, when: datetime, *, state: str, kept: bool) -> str:
        self._row(rid, "slack", FEED, role, POST_BODY, "post", state, when, kept=kept)
        if state != "sent":
            return ""
        self.slack_ts += 1
        return f"{when.timestamp():.0f}.{self.slack_ts % 1_000_000:06d}"

    def _row(
        self,
        rid: str,
        sink: str,
        channel: str,
        role: str,
        body: str,
        operation: str,
        state: str,
        when: datetime,
        *,
        kept: bool,
    ) -> None:
        self.outbox_id += 1
        sent = when + timedelta(seconds=1) if state == "sent" else None
        self.writer.add(
            "outbox",
            (
                self.outbox_id,
                rid,
                sink,
                None,
                channel,
                role,
                None,
                None,
                body,
                operation,
                state,
                0,
                1,
                0,
                when,
                None,
                None,
                when,
                sent,
                None,
            ),
            kept=kept,
        )


def write_year(
    full: Path, kept: Path, *, end: datetime | None = None, scale: float = 1.0
) -> Counts:
    """Fill two migrated, empty SQLite files: the whole year, and what retention keeps."""
    writer = Writer(full, kept)
    when = end or datetime.now(UTC)
    year = Year(end=when, rng=random.Random(SEED), writer=writer, scale=scale)
    for index, service, env, at in year.releases():
        year.release(index, service, env, at)
    writer.close()
    return writer.counts
