"""Which attempt of a once-only action a caller acts in."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.deploy.attempts import FAILED, attempt_at
from bot.domain.ports import Claim, HeldClaim, OpenClaim

AT = datetime(2025, 10, 2, 20, 0, tzinfo=UTC)


class Claims:
    """The latest claim of one key, as the audit log would return it."""

    def __init__(self, held: HeldClaim | None) -> None:
        self.held = held

    async def record(self, entry: object) -> None: ...

    async def claim(self, *, key: str, actor: str, at: datetime, attempt: int = 1) -> Claim:
        raise AssertionError("attempt_at only reads")

    async def open_claims(
        self, *, key_prefix: str, holder_prefix: str, before: datetime
    ) -> list[OpenClaim]:
        return []

    async def last_claim(self, key: str) -> HeldClaim | None:
        return self.held

    async def finish_claim(self, *, key: str, attempt: int, left: str, at: datetime) -> None:
        raise AssertionError("attempt_at only reads")


class Reads:
    def __init__(self, answer: bool) -> None:
        self.answer, self.count = answer, 0

    async def __call__(self) -> bool:
        self.count += 1
        return self.answer


async def attempt(held: HeldClaim | None, *, live: str = "h:1:paused", still: bool = True) -> int:
    return await attempt_at(Claims(held), key="k", live=live, still=Reads(still))


async def test_the_first_caller_is_in_attempt_one() -> None:
    assert await attempt(None) == 1


async def test_a_claim_whose_action_is_under_way_is_never_superseded() -> None:
    assert await attempt(HeldClaim(3, "U1", AT)) == 3


async def test_the_state_the_holder_left_is_still_there_same_attempt() -> None:
    assert await attempt(HeldClaim(1, "U1", AT, left="h:1:paused")) == 1


async def test_another_state_confirmed_on_a_second_read_is_the_next_attempt() -> None:
    assert await attempt(HeldClaim(1, "U1", AT, left="h:3:paused")) == 2
    assert await attempt(HeldClaim(2, "U1", AT, left=FAILED)) == 3


async def test_a_state_gone_on_the_second_read_stays_in_the_attempt() -> None:
    """The caller read the state before the holder acted: it is a second click, not a retry."""
    assert await attempt(HeldClaim(1, "U1", AT, left="h:3:paused"), still=False) == 1


async def test_the_second_read_happens_only_when_a_finished_claim_may_be_superseded() -> None:
    reads = Reads(True)
    held = HeldClaim(1, "U1", AT, left="h:1:paused")
    await attempt_at(Claims(held), key="k", live="h:1:paused", still=reads)
    await attempt_at(Claims(HeldClaim(1, "U1", AT)), key="k", live="x", still=reads)
    assert reads.count == 0
