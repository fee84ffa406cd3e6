"""Running a use case's whole transaction in one call: on the SQLite writer's thread, with no
event-loop turn between its statements.

The Ledger (bot/store/ledger.py) and the helpers it uses speak to an `AsyncSession`, and the
use cases that drive it are coroutines. A use case inside a transaction awaits the ledger
and nothing else (no network call holds a write lock), so over a session whose methods
return at once — `SessionNow`, the few `AsyncSession` methods the ledger uses over a
synchronous `Session` — the coroutine never suspends, and `drive` runs it to its end in one
go. The statements then run back to back on one connection, holding SQLite's write lock for
their own time only, instead of across a hop to the driver's thread per statement while the
event loop serves other requests.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

T = TypeVar("T")


class SessionNow:
    """`add`, `execute`, `flush` and `get` of an `AsyncSession`, answered at once.

    A Core statement (on a table, not an ORM entity) goes straight to the connection — the
    ORM's execute path costs more than most of the ledger's statements themselves — after
    the session's own objects, if it holds any, are flushed, as autoflush would."""

    def __init__(self, session: Session, connection: Connection) -> None:
        self._session = session
        self._connection = connection

    def add(self, row: object) -> None:
        self._session.add(row)

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]:
        if _is_orm(statement):
            return self._session.execute(statement, params)
        if self._session.new or self._session.identity_map:
            self._session.flush()
        return self._connection.execute(statement, params)

    async def flush(self) -> None:
        self._session.flush()

    async def get(self, entity: Any, ident: Any) -> Any:
        return self._session.get(entity, ident)


def session_on(connection: Connection) -> tuple[Session, AsyncSession]:
    """A session joined to `connection`'s transaction, and the same as the ledger takes it."""
    session = Session(bind=connection, expire_on_commit=False, autoflush=True)
    return session, cast(AsyncSession, SessionNow(session, connection))  # the four it uses


def _is_orm(statement: Any) -> bool:
    """Statements on ORM entities (`select(EventRow)`) carry the ORM's compile plugin."""
    attrs = getattr(statement, "_propagate_attrs", None) or {}
    return attrs.get("compile_state_plugin") == "orm"


def drive(step: Awaitable[T]) -> T:
    """Run `step` to its end now; it must not wait on anything (see the module's docstring)."""
    steps = step.__await__()
    refused = f"{step!r} waited on something besides the ledger in its transaction"
    try:
        next(steps)
    except StopIteration as done:
        return cast(T, done.value)
    except RuntimeError as exc:  # on the writer's thread, asyncio finds no loop to wait on
        if "no running event loop" in str(exc):
            raise RuntimeError(refused) from exc
        raise
    close = getattr(steps, "close", None)
    if close is not None:
        close()
    raise RuntimeError(refused)
