"""The Ledger port over SQLModel: releases, events and outbox rows in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, insert, update
from sqlalchemy import select as select_rows
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from bot.domain.approval.policy import Need
from bot.domain.approval.votes import Approval, State, Vote
from bot.domain.checkup.offsets import DEFAULT_OFFSETS
from bot.domain.checkup.verdict import Color
from bot.domain.incident.model import Incident
from bot.domain.paging import ChangeEvent, Page
from bot.domain.ports import ConcurrentWrite
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Audience, Notice, RecordedEvent, Release
from bot.domain.watch.watch import Watch, WatchConfig, WatchPurpose
from bot.domain.watch.windows import first_evaluation
from bot.store import approvals, incidents, watches
from bot.store.checkups import merge_result, record_verdict, supersede_checkups
from bot.store.keyed_messages import queue_update
from bot.store.notice_channels import NoticeChannels
from bot.store.outbox import POST, UPDATE
from bot.store.pages import PAGERDUTY_CHANNEL, PageRows
from bot.store.release_rows import (
    event_from_row,
    release_columns,
    release_from_row,
    row_values,
    table_of,
)
from bot.store.tables import CheckupRow, EventRow, OutboxRow, ReleaseRow

T = TypeVar("T")

NoticeRenderer = Callable[[Notice], dict[str, Any]]
CheckupOffsets = Callable[[str, str], Sequence[timedelta]]
WatchConfigs = Callable[[str, str], WatchConfig | None]  # None: the service is not watched


class SqlLedger:
    """A Ledger bound to one session (one transaction)."""

    def __init__(
        self,
        *,
        session: AsyncSession,
        render: NoticeRenderer,
        channels: NoticeChannels,
        now: datetime,
        offsets: CheckupOffsets = lambda service, env: DEFAULT_OFFSETS,
        change_events: bool = False,
        watch_configs: WatchConfigs = lambda service, env: None,
    ) -> None:
        self._watch_configs = watch_configs
        self._session = session
        self._render = render
        self._channels = channels
        self._now = now
        self._offsets = offsets
        self._change_events = change_events
        self._pages = PageRows(session, now=now)
        self.channels: set[str] = set()  # outbox channels written: whose senders have work
        self.recorded: list[RecordedEvent] = []  # events added: logged once committed

    async def get_release(self, release_id: str) -> Release | None:
        releases = table_of(ReleaseRow)
        found = await self._session.execute(
            select_rows(releases).where(releases.c.id == release_id)
        )
        row = found.first()
        return release_from_row(cast(ReleaseRow, row)) if row else None

    async def add_release(self, release: Release) -> None:
        await self._insert(
            ReleaseRow, [row_values(ReleaseRow, **release_columns(release), revision=1)]
        )

    async def save_release(self, release: Release) -> None:
        releases = table_of(ReleaseRow)
        result = await self._session.execute(
            update(releases)
            .where(releases.c.id == release.id, releases.c.revision == release.revision)
            .values(**release_columns(release), revision=release.revision + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentWrite(release.id)

    async def get_event(self, *, release_id: str, event: EventType) -> RecordedEvent | None:
        events = table_of(EventRow)
        return await self._one_event(
            (events.c.release_id == release_id) & (events.c.type == event.value)
        )

    async def find_event_by_key(self, key: str) -> RecordedEvent | None:
        return await self._one_event(table_of(EventRow).c.idempotency_key == key)

    async def _one_event(self, where: ColumnElement[bool]) -> RecordedEvent | None:
        found = await self._session.execute(select_rows(table_of(EventRow)).where(where))
        row = found.first()
        return event_from_row(cast(EventRow, row)) if row else None

    async def add_event(self, event: RecordedEvent) -> None:
        row = row_values(
            EventRow,
            release_id=event.release_id,
            type=event.type.value,
            at=event.at,
            received_at=event.received_at,
            idempotency_key=event.idempotency_key,
            payload=event.payload.model_dump(mode="json"),
        )
        await self._insert(EventRow, [row])
        self.recorded.append(event)

    async def enqueue(self, notices: Sequence[Notice]) -> None:
        for notice in notices:
            role = _role(notice)
            thread_role = None if notice.replaces else _thread_role(notice.audience)
            channel = await self._channels.channel_of(
                self._session, notice, role=role, thread_role=thread_role
            )
            if notice.replaces:  # behind the message's post; only the newest content counts
                await self._flush()
                channel = await queue_update(
                    self._session, release_id=notice.release.id, role=role, channel=channel
                )
            row = row_values(
                OutboxRow,
                release_id=notice.release.id,
                channel=channel,
                role=role,
                thread_role=thread_role,
                event_type=notice.payload.event.value if notice.payload else None,
                body=self._render(notice),
                operation=UPDATE if notice.replaces else POST,
                urgent=notice.urgent,
                next_attempt_at=self._now,
                created_at=self._now,
            )
            await self._insert(OutboxRow, [row])
            self.channels.add(channel)

    async def schedule_checkups(
        self, *, release: Release, deployed_at: datetime
    ) -> list[tuple[str, list[timedelta]]]:
        superseded = await supersede_checkups(
            self._session, service=release.service, env=release.env, by=release.id
        )
        rows = [
            row_values(
                CheckupRow,
                release_id=release.id,
                service=release.service,
                env=release.env,
                offset_seconds=int(offset.total_seconds()),
                deployed_at=deployed_at,
                due_at=deployed_at + offset,
            )
            for offset in self._offsets(release.service, release.env)
        ]
        if rows:
            await self._insert(CheckupRow, rows)
        return superseded

    async def finish_checkup(
        self,
        *,
        checkup_id: int,
        color: Color,
        result: dict[str, Any],
        rollback_pending: bool = False,
    ) -> None:
        await record_verdict(
            self._session,
            checkup_id=checkup_id,
            color=color.value,
            result=result,
            now=self._now,
            rollback_pending=rollback_pending,
        )

    async def keep_rollback_plan(self, *, checkup_id: int, plan: str) -> None:
        await merge_result(self._session, checkup_id=checkup_id, extra={"rollback_plan": plan})

    async def finish_rollback(self, *, checkup_id: int, outcome: str) -> None:
        await merge_result(
            self._session, checkup_id=checkup_id, extra={"actions": [outcome]}, done=True
        )

    async def start_watch(
        self, *, release: Release, purpose: WatchPurpose, origin: datetime
    ) -> None:
        config = self._watch_configs(release.service, release.env)
        if config is None or (release.state is EventType.STARTED and not config.canary):
            return  # not watched; or not a canary, whose watch starts at release.deployed
        if config.ends_at(purpose, origin) <= self._now:
            return  # heard of too late to watch: the scheduled checkups judge it
        await watches.start_watch(
            self._session,
            release_id=release.id,
            service=release.service,
            env=release.env,
            purpose=purpose,
            origin=origin,
            ends_at=config.ends_at(purpose, origin),
            due_at=max(first_evaluation(origin), self._now),
            now=self._now,
        )
        await self._flush()

    async def save_watch(
        self,
        *,
        watch: Watch,
        due_at: datetime,
        finished: str | None,
        reason: str | None,
        failed: bool = False,
    ) -> bool:
        return await watches.save_watch(
            self._session,
            watch=watch,
            due_at=due_at,
            finished=finished,
            reason=reason,
            now=self._now,
            failed=failed,
        )

    async def note_alert_resolved(self, *, release_id: str, at: datetime) -> bool:
        return await watches.note_alert_resolved(
            self._session, release_id=release_id, at=at, now=self._now
        )

    async def watching_recovery(self, release_id: str) -> bool:
        return await watches.is_watching(
            self._session, release_id=release_id, purpose=WatchPurpose.RECOVERY
        )

    async def enqueue_page(self, *, release_id: str, page: Page, deadline: datetime) -> None:
        self.channels.add(PAGERDUTY_CHANNEL)
        await self._pages.enqueue_page(release_id=release_id, page=page, deadline=deadline)
        await self._flush()

    async def resolve_pages(self, *, release_id: str, deadline: datetime) -> None:
        self.channels.add(PAGERDUTY_CHANNEL)
        await self._pages.resolve(release_id=release_id, deadline=deadline)
        await self._flush()

    async def enqueue_change(
        self, *, release_id: str, change: ChangeEvent, deadline: datetime
    ) -> None:
        if self._change_events:
            self.channels.add(PAGERDUTY_CHANNEL)
            await self._pages.enqueue_change(
                release_id=release_id, change=change, deadline=deadline
            )
            await self._flush()

    async def open_approval(self, *, release_id: str, need: Need) -> None:
        self._session.add(approvals.opened(release_id, need, at=self._now))
        await self._flush()

    async def lock_approval(self, release_id: str) -> Approval | None:
        return await approvals.lock_approval(self._session, release_id)

    async def add_vote(self, *, approval: Approval, vote: Vote) -> None:
        """Keep `vote` and the state it brought `approval` to (the request locked first)."""
        await approvals.add_vote(self._session, approval.release_id, vote)
        if approval.state is not State.WAITING:
            await approvals.settle(self._session, approval)

    async def lock_incident(self, release_id: str) -> Incident | None:
        return await incidents.lock_incident(self._session, release_id)

    async def save_incident(self, incident: Incident, *, new: bool) -> None:
        await incidents.save_incident(self._session, incident, new=new)

    async def fixed_by(self, release: Release) -> list[str]:
        return await incidents.fixed_by(
            self._session, release_id=release.id, service=release.service, version=release.version
        )

    async def claim_approval_post(self, release_id: str) -> bool:
        return await approvals.claim_post(self._session, release_id, at=self._now)

    async def flush(self) -> None:
        """Write what the use case added (before the transaction commits)."""
        await self._flush()

    async def _insert(self, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        """Write `rows` now, as a Core insert: the ORM's unit of work costs several times more
        per row, and nothing reads these rows back as objects."""
        try:
            await self._session.execute(insert(table_of(model)), rows)
        except IntegrityError as exc:
            raise ConcurrentWrite(str(exc.orig)) from exc

    async def _flush(self) -> None:
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise ConcurrentWrite(str(exc.orig)) from exc


def _role(notice: Notice) -> str:
    """A keyed message's role is its key; `feed_root`/`ops_root` open a thread (and are
    what an unkeyed replacement edits); other roles name what the message is."""
    if notice.key is not None:
        return notice.key
    if notice.opens_thread or notice.replaces:  # a thread's root, or its new content
        return f"{notice.audience.channel_role}_root"
    return f"{notice.audience.value}_{notice.kind.value}"


def _thread_role(audience: Audience) -> str | None:
    return f"{audience.channel_role}_root" if audience.in_thread else None
