"""The work of a kept request after its ack: how it ended is counted, and a crash is told
to the user with a reference instead of vanishing."""

from __future__ import annotations

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
