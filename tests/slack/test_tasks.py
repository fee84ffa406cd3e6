"""The work of a kept request after its ack: how it ended is counted, and a crash is told
to the user with a reference instead of vanishing."""

from __future__ import annotations

import asyncio

from bot.slack.tasks import BackgroundTasks


async def test_each_kept_requests_work_is_counted_by_how_it_ended() -> None:
    ended: list[str] = []
    told: list[str] = []
    finished: list[str] = []

    async def finish(key: str) -> None:
        finished.append(key)

    async def tell(message: str) -> None:
        told.append(message)

    async def answers() -> None:
        pass

    async def breaks() -> None:
        raise RuntimeError("Argo CD said something Herald did not expect")

    tasks = BackgroundTasks(finish=finish, outcome=ended.append)
    tasks.spawn(answers(), on_error=tell, key="k1")
    tasks.spawn(answers(), on_error=tell, key="k2", done_as="late")
    tasks.spawn(breaks(), on_error=tell, key="k3")
    tasks.spawn(answers(), on_error=tell)  # not kept: nothing to count
    await tasks.drain()

    assert sorted(ended) == ["answered", "failed", "late"]
    assert sorted(finished) == ["k1", "k2", "k3"]  # a failure was answered too: not resumed
    [message] = told
    assert "Herald hit an internal error" in message


async def test_work_still_running_at_shutdown_is_cut_short_not_told_as_an_error() -> None:
    told: list[str] = []
    finished: list[str] = []
    ended: list[str] = []

    async def finish(key: str) -> None:
        finished.append(key)

    async def tell(message: str) -> None:
        told.append(message)

    async def waits_on_argocd() -> None:
        await asyncio.sleep(60)  # Argo CD is slow to answer while Herald stops

    tasks = BackgroundTasks(finish=finish, outcome=ended.append)
    tasks.spawn(waits_on_argocd(), on_error=tell, key="k1")
    await tasks.drain(timeout=0.05)

    assert told == []  # nobody is told of an internal error...
    assert finished == [] and ended == []  # ...and it stays in the inbox, to be resumed
    assert tasks.running_keys == frozenset()
