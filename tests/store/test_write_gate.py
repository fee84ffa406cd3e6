"""The SQLite write gate: one writer at a time, in order, the fast lane first."""

from __future__ import annotations

import asyncio

from bot.store.write_gate import WriteGate


async def _writer(gate: WriteGate, name: str, order: list[str], *, fast: bool = False) -> None:
    await gate.acquire(fast=fast)
    order.append(name)
    await asyncio.sleep(0.01)
    gate.release()


async def test_writers_take_turns_in_order_and_an_ack_goes_first() -> None:
    gate, order = WriteGate(), list[str]()
    await gate.acquire()  # a long background write holds the gate
    queued = [asyncio.create_task(_writer(gate, f"bg{i}", order)) for i in range(3)]
    await asyncio.sleep(0)
    ack = asyncio.create_task(_writer(gate, "ack", order, fast=True))
    await asyncio.sleep(0)
    gate.release()
    await asyncio.gather(*queued, ack)
    assert order == ["ack", "bg0", "bg1", "bg2"]


async def test_a_writer_cancelled_while_waiting_does_not_block_the_rest() -> None:
    gate, order = WriteGate(), list[str]()
    await gate.acquire()
    gone = asyncio.create_task(_writer(gate, "gone", order))
    after = asyncio.create_task(_writer(gate, "after", order))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    gate.release()
    await asyncio.wait_for(after, 1)
    assert order == ["after"]


async def test_a_writer_cancelled_as_its_turn_came_passes_the_gate_on() -> None:
    gate, order = WriteGate(), list[str]()
    await gate.acquire()
    unlucky = asyncio.create_task(_writer(gate, "unlucky", order))
    after = asyncio.create_task(_writer(gate, "after", order))
    await asyncio.sleep(0)
    gate.release()  # hands the gate to `unlucky` ...
    unlucky.cancel()  # ... which is cancelled before it runs
    await asyncio.wait_for(after, 1)
    assert order == ["after"]
    await asyncio.wait_for(gate.acquire(), 1)  # and the gate is free again afterwards
