"""The ReleaseReader port: questions about stored releases, answered with indexed queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, Select, bindparam
from sqlalchemy import select as select_rows
from sqlmodel import col, func, select

from bot.domain.approval.card import REQUEST_KEY
from bot.domain.approval.votes import Approval
from bot.domain.checkup.offsets import offset_label
from bot.domain.checkup.verdict import Color
from bot.domain.incident.model import Incident
from bot.domain.ports import CheckupSummary, WatchSummary
from bot.domain.rehearsal.model import Rehearsal
from bot.domain.release.model import Release
from bot.domain.watch.verdict import WatchColor
from bot.domain.watch.watch import WatchPurpose
from bot.store.approvals import approval_of, unposted, waiting
from bot.store.checkups import JUDGED
from bot.store.database import Database
from bot.store.incidents import read_incident
from bot.store.queries import message_link
from bot.store.rehearsals import last_rehearsal
from bot.store.release_rows import release_from_row, table_of
from bot.store.retros import paged_at, retros_due
from bot.store.tables import CheckupRow, ReleaseRow, SlackMessageRow, WatchRow

IN_FLIGHT_STATES = ("release.planned", "release.started", "release.failed", "release.rolled_back")
RECENT_DEPLOY = timedelta(hours=24)
RELEASES = table_of(ReleaseRow)


LINKED_ROLES = ("feed_root", "ops_root", REQUEST_KEY)  # the threads, and an approval request


class SqlReleaseReader:
    def __init__(self, *, database: Database) -> None:
        self._database = database

    async def latest(self, *, service: str, env: str) -> Release | None:
        statement = (
            select_rows(RELEASES)
            .where(RELEASES.c.service == service, RELEASES.c.env == env)
            .order_by(RELEASES.c.received_at.desc())
            .limit(1)
        )
        return await self._one(statement)

    async def by_version(self, *, service: str, env: str, version: str) -> Release | None:
        statement = (
            select_rows(RELEASES)
            .where(
                RELEASES.c.service == service,
                RELEASES.c.env == env,
                RELEASES.c.version.in_((version, f"v{version}")),
            )
            .order_by(RELEASES.c.received_at.desc())
            .limit(1)
        )
        return await self._one(statement)

    async def by_commit(self, *, service: str, env: str, sha_prefix: str) -> Release | None:
        """The newest of the last 200 releases whose `git.commit` starts with `sha_prefix`:
        their commits are read from the JSON in SQL, and only the one found is loaded."""
        newest, by_id = _commit_statements()

        def first_with_commit(connection: Connection) -> Release | None:
            for row in connection.execute(newest, {"b_service": service, "b_env": env}):
                if str(row.commit or "").startswith(sha_prefix):
                    found = connection.execute(by_id, {"b_id": row.id}).first()
                    return release_from_row(cast(ReleaseRow, found)) if found else None
            return None

        return await self._database.read_now(first_with_commit)

    async def rehearsal_of(self, release: Release) -> Rehearsal | None:
        return await last_rehearsal(self._database, release=release)

    async def approval_of(self, release_id: str) -> Approval | None:
        return await approval_of(self._database, release_id)

    async def newest_each(self) -> list[Release]:
        return await self._releases(_in_flight_statement(one_service=False), None)

    async def retros_due(self, *, since: datetime, until: datetime) -> list[str]:
        return await retros_due(self._database, since=since, until=until)

    async def paged_at(self, release_id: str) -> datetime | None:
        return await paged_at(self._database, release_id)

    async def incident(self, release_id: str) -> Incident | None:
        async with self._database.read() as session:
            return await read_incident(session, release_id)

    async def waiting_approvals(self) -> list[str]:
        return await waiting(self._database)

    async def approvals_to_post(self) -> list[str]:
        return await unposted(self._database)

    async def by_id(self, release_id: str) -> Release | None:
        return await self._one(select_rows(RELEASES).where(RELEASES.c.id == release_id))

    async def running(self, *, service: str, env: str) -> Release | None:
        """The release deployed last and not rolled back: what runs there now."""
        statement = (
            select_rows(RELEASES)
            .where(
                RELEASES.c.service == service,
                RELEASES.c.env == env,
                RELEASES.c.deployed_at.is_not(None),
                RELEASES.c.rolled_back_at.is_(None),
            )
            .order_by(RELEASES.c.deployed_at.desc())
        )
        return await self._one(statement)

    async def last_good_before(self, release: Release) -> Release | None:
        statement = (
            select_rows(RELEASES)
            .where(
                RELEASES.c.service == release.service,
                RELEASES.c.env == release.env,
                RELEASES.c.id != release.id,
                RELEASES.c.deployed_at.is_not(None),
                RELEASES.c.failed_at.is_(None),
                RELEASES.c.received_at <= release.received_at,
            )
            .order_by(RELEASES.c.deployed_at.desc())
            .limit(1)
        )
        return await self._one(statement)

    async def in_flight(self, *, now: datetime, service: str | None = None) -> list[Release]:
        """The newest release of each service (or of `service`) and env, if it is not
        settled yet."""
        statement = _in_flight_statement(one_service=service is not None)
        params = {"b_service": service} if service is not None else None
        releases = await self._releases(statement, params)
        recent = now - RECENT_DEPLOY
        return sorted(
            (
                r
                for r in releases
                if (r.state and r.state.value in IN_FLIGHT_STATES)
                or (
                    r.state
                    and r.state.value == "release.deployed"
                    and max(r.times.values()) >= recent
                )
            ),
            key=lambda r: (r.service, r.env),
        )

    async def failed_unrecovered(
        self, *, since: datetime, service: str | None = None, env: str | None = None
    ) -> list[Release]:
        statement = (
            select_rows(RELEASES)
            .where(RELEASES.c.failed_at >= since, RELEASES.c.recovered_at.is_(None))
            .order_by(RELEASES.c.failed_at)
            .limit(200)
        )
        if service is not None:
            statement = statement.where(RELEASES.c.service == service)
        if env is not None:
            statement = statement.where(RELEASES.c.env == env)
        return await self._releases(statement)

    async def checkup_summary(self, release_id: str) -> CheckupSummary:
        async with self._database.read() as session:
            rows = (
                (
                    await session.execute(
                        select(CheckupRow)
                        .where(col(CheckupRow.release_id) == release_id)
                        .order_by(col(CheckupRow.offset_seconds))
                    )
                )
                .scalars()
                .all()
            )
        done = [r for r in rows if r.state in JUDGED]
        pending = [r for r in rows if r.state in ("pending", "running")]
        last, upcoming = (done[-1] if done else None), (pending[0] if pending else None)
        return CheckupSummary(
            last_color=Color(last.color) if last and last.color else None,
            last_label=offset_label(timedelta(seconds=last.offset_seconds)) if last else None,
            next_label=offset_label(timedelta(seconds=upcoming.offset_seconds))
            if upcoming
            else None,
            next_due=upcoming.due_at if upcoming else None,
        )

    async def watch_summary(self, release_id: str) -> WatchSummary | None:
        async with self._database.read() as session:
            row = (
                (
                    await session.execute(
                        select(WatchRow).where(
                            col(WatchRow.release_id) == release_id,
                            col(WatchRow.purpose) == WatchPurpose.RELEASE.value,
                        )
                    )
                )
                .scalars()
                .first()
            )
        if row is None or row.color is None:
            return None
        return WatchSummary(
            color=WatchColor(row.color), reason=row.reason or "", at=row.finished_at
        )

    async def service_of(self, release_id: str) -> str | None:
        async with self._database.read() as session:
            row = await session.get(ReleaseRow, release_id)
            return row.service if row else None

    async def message_links(self, release_id: str) -> dict[str, str]:
        async with self._database.read() as session:
            rows = (
                await session.execute(
                    select(SlackMessageRow).where(
                        col(SlackMessageRow.release_id) == release_id,
                        col(SlackMessageRow.role).in_(LINKED_ROLES),
                    )
                )
            ).scalars()
            return {row.role: message_link(row.channel, row.ts) for row in rows}

    async def _one(self, statement: Select[Any]) -> Release | None:
        releases = await self._releases(statement.limit(1))
        return releases[0] if releases else None

    async def _releases(
        self, statement: Select[Any], params: dict[str, Any] | None = None
    ) -> list[Release]:
        """The releases `statement` (on the table) selects, in one hop to the reader."""

        def fetch(connection: Connection) -> list[Release]:
            rows = connection.execute(statement, params)
            return [release_from_row(cast(ReleaseRow, row)) for row in rows]

        return await self._database.read_now(fetch)


@cache
def _in_flight_statement(*, one_service: bool) -> Select[Any]:
    """The newest release of each service and env (of `b_service` only, with
    `one_service`), built once: building the subquery costs more than running it."""
    latest = select_rows(
        RELEASES.c.service, RELEASES.c.env, func.max(RELEASES.c.received_at).label("at")
    )
    if one_service:  # an alert's service: its rows only, not every service's
        latest = latest.where(RELEASES.c.service == bindparam("b_service"))
    newest = latest.group_by(RELEASES.c.service, RELEASES.c.env).subquery()
    return select_rows(RELEASES).join(
        newest,
        (RELEASES.c.service == newest.c.service)
        & (RELEASES.c.env == newest.c.env)
        & (RELEASES.c.received_at == newest.c.at),
    )


@cache
def _commit_statements() -> tuple[Select[Any], Select[Any]]:
    """The newest 200 releases' ids and commits of `b_service` in `b_env`; one by `b_id`."""
    commit = RELEASES.c.manifest[("git", "commit")].as_string().label("commit")
    newest = (
        select_rows(RELEASES.c.id, commit)
        .where(RELEASES.c.service == bindparam("b_service"), RELEASES.c.env == bindparam("b_env"))
        .order_by(RELEASES.c.received_at.desc())
        .limit(200)
    )
    return newest, select_rows(RELEASES).where(RELEASES.c.id == bindparam("b_id"))
