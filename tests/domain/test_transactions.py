"""run_in_transaction: again on a concurrent write, then one retryable error."""

from __future__ import annotations

import pytest

from bot.domain.ports import ConcurrentWrite, Ledger
from bot.domain.transactions import ChangedConcurrently, run_in_transaction
from tests.fakes import ContendedLedgers, MemoryLedgers


async def test_a_use_case_that_loses_once_is_run_again_in_a_new_transaction() -> None:
    calls: list[Ledger] = []

    async def use_case(ledger: Ledger) -> str:
        calls.append(ledger)
        if len(calls) == 1:
            raise ConcurrentWrite("rel-1")
        return "done"

    assert await run_in_transaction(MemoryLedgers(), use_case) == "done"
    assert len(calls) == 2


async def test_the_attempts_run_out_in_one_retryable_error() -> None:
    ledgers = ContendedLedgers()

    async def use_case(ledger: Ledger) -> None:
        return None

    with pytest.raises(ChangedConcurrently) as raised:
        await run_in_transaction(ledgers, use_case, attempts=4)
    assert ledgers.attempts == 4
    assert (raised.value.status, raised.value.retry_after) == (503, 1)
    assert raised.value.message == "the release changed concurrently; send it again"
    assert isinstance(raised.value.__cause__, ConcurrentWrite)
