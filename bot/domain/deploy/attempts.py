"""Which attempt of a once-only `/deploy` action a caller acts in.

A claim (`AuditLog.claim`) makes a promote from a step, or a rollback, happen once: a double
click, Slack's retry or a resumed command finds it taken and is told who took it. But the same
action can be owed again, for real: an operator retries an aborted canary (`kubectl argo
rollouts retry`), which starts over with the same revision and stops at the same step, so the
promote from that step and the abort of that canary are new actions. A claim therefore holds
for one *attempt*. When its holder has finished, the claim records the state its action left
behind; a caller who finds the deploy tool in another state than that, and still in the state
the action starts from when it reads it again after seeing the finished claim, acts in the
next attempt. The second read is what keeps a click racing the first one (which read the state
before the first finished) from being taken for a new attempt; a claim not finished yet is
never superseded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.domain.ports import AuditLog

FAILED = "failed"  # what a failed action leaves: nothing of its own, never a live state
ABORTED = "aborted"  # what an abort leaves: a canary no longer in flight


async def attempt_at(
    audit: AuditLog, *, key: str, live: str, still: Callable[[], Awaitable[bool]]
) -> int:
    """The attempt of `key` for a caller who found the deploy tool in state `live`. `still`
    reads the tool again and says whether it is still in the state the action starts from."""
    held = await audit.last_claim(key)
    if held is None:
        return 1
    if held.left is None or held.left == live or not await still():
        return held.attempt
    return held.attempt + 1
