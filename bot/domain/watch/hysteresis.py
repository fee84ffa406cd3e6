"""The watch over time: which colour is announced, so that one noisy evaluation changes
nothing (``docs/verdict.md`` §3.6).

A colour is announced once it has held for ``hold`` consecutive evaluations (2), green only
with 200 requests in W. Three exceptions: the first evaluation is announced at once when it
is inconclusive or unknown; a red from W2 is announced at once, its ceiling having held for
``hold`` evaluations already; and when nothing has been announced by 60 s after R, the next
evaluation announces "inconclusive", so a watch judged from R on has a first verdict within
that time. ``WatchState`` is what the loop keeps between evaluations (``encode`` / ``decode``
as JSON); ``observe`` takes it and fresh inputs and returns the next state and what to
announce.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import TypeAdapter

from bot.domain.checkup.evaluators import INCONCLUSIVE, Finding
from bot.domain.checkup.metrics import floor_to_grid
from bot.domain.watch.inputs import Unavailable, WatchInputs
from bot.domain.watch.policy import DEFAULT_WATCH_POLICY, WatchPolicy
from bot.domain.watch.rules import judge
from bot.domain.watch.verdict import WatchColor, WatchVerdict, unknown_watch_verdict

__all__ = ["WatchState", "WatchUpdate", "advance", "observe"]

AT_ONCE = frozenset({WatchColor.INCONCLUSIVE, WatchColor.UNKNOWN})  # at the first evaluation


@dataclass(frozen=True)
class WatchState:
    """One release's watch between evaluations; plain values, kept as JSON."""

    origin: datetime  # R
    announced: WatchColor | None = None  # the colour the watch's message shows
    announced_at: datetime | None = None
    candidate: WatchColor | None = None  # the last evaluation's colour ...
    streak: int = 0  # ... and how many evaluations in a row had it
    ceiling_streak: int = 0  # evaluations in a row over W2's ceiling
    evaluations: int = 0
    last_at: datetime | None = None  # the last evaluation's time: a repeat changes nothing

    def ends_at(self, policy: WatchPolicy = DEFAULT_WATCH_POLICY) -> datetime:
        return self.origin + policy.duration

    def encode(self) -> str:
        return _STATE.dump_json(self).decode()

    @classmethod
    def decode(cls, raw: str | bytes) -> WatchState:
        """The state ``encode`` wrote; a pydantic ``ValidationError`` if it is not one."""
        return _STATE.validate_json(raw)


_STATE = TypeAdapter(WatchState)


@dataclass(frozen=True)
class WatchUpdate:
    state: WatchState  # to keep for the next evaluation
    verdict: WatchVerdict  # this evaluation's, to refresh the watch's one message
    announcement: WatchVerdict | None = None  # set when the announced colour changed: a reply

    @property
    def announced(self) -> WatchColor | None:
        return self.state.announced


def observe(
    state: WatchState,
    inputs: WatchInputs | Unavailable,
    *,
    policy: WatchPolicy = DEFAULT_WATCH_POLICY,
) -> WatchUpdate:
    """Judge fresh inputs (or an unreachable Prometheus) and advance the watch."""
    if isinstance(inputs, Unavailable):
        at = floor_to_grid(inputs.at)
        verdict = unknown_watch_verdict(
            inputs.reason, at=at, age=at - state.origin, source=inputs.source
        )
    else:
        verdict = judge(inputs, policy=policy, previous_breaches=state.ceiling_streak)
    return advance(state, verdict, policy=policy)


def advance(
    state: WatchState, verdict: WatchVerdict, *, policy: WatchPolicy = DEFAULT_WATCH_POLICY
) -> WatchUpdate:
    """The state after ``verdict``; an evaluation no later than the last one changes nothing."""
    if state.last_at is not None and verdict.at <= state.last_at:
        return WatchUpdate(state, verdict)
    streak = state.streak + 1 if verdict.color is state.candidate else 1
    announcement = _announcement(state, verdict, streak=streak, policy=policy)
    new = replace(
        state,
        candidate=verdict.color,
        streak=streak,
        ceiling_streak=verdict.ceiling_streak,
        evaluations=state.evaluations + 1,
        last_at=verdict.at,
    )
    if announcement is None:
        return WatchUpdate(new, verdict)
    new = replace(new, announced=announcement.color, announced_at=verdict.at)
    return WatchUpdate(new, verdict, announcement)


def _announcement(
    state: WatchState, verdict: WatchVerdict, *, streak: int, policy: WatchPolicy
) -> WatchVerdict | None:
    """The verdict to announce now, when the announced colour changes."""
    color, nothing_yet = verdict.color, state.announced is None
    if color is state.announced:
        return None
    if nothing_yet and state.evaluations == 0 and color in AT_ONCE:
        return verdict
    if "W2" in verdict.fired_rules() and verdict.ceiling_streak >= policy.hold:
        return verdict
    settled = streak >= policy.hold
    if settled and (color is not WatchColor.GREEN or verdict.requests >= policy.min_requests_green):
        return verdict
    late = verdict.age >= policy.first_verdict_within
    if nothing_yet and state.evaluations and late:
        return _unsettled(state, verdict, settled=settled, policy=policy)
    return None


def _unsettled(
    state: WatchState, verdict: WatchVerdict, *, settled: bool, policy: WatchPolicy
) -> WatchVerdict:
    """The inconclusive verdict announced when nothing was by ``first_verdict_within``."""
    if verdict.color is WatchColor.INCONCLUSIVE:  # its own reason says why
        return verdict
    if settled:  # green, on too few requests
        need = f"(need {policy.min_requests_green} for green)"
        detail = f"only {verdict.requests:,} requests so far {need}"
    else:
        was = f"{state.candidate}, then {verdict.color}"
        detail = f"no colour has held for {policy.hold} evaluations in a row yet ({was})"
    finding = Finding("INCONCLUSIVE", "watch", INCONCLUSIVE, detail)
    return replace(
        verdict, color=WatchColor.INCONCLUSIVE, findings=(finding, *verdict.findings), impact=None
    )
