"""The watch over time (docs/verdict.md §3.6): a colour is announced once it held for two
evaluations, the first inconclusive or unknown one at once, red from W2 at once, and a
flapping series never changes the announced colour. The state survives JSON."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.domain.watch.hysteresis import WatchState, WatchUpdate, advance, observe
from bot.domain.watch.inputs import Unavailable, WatchInputs
from bot.domain.watch.policy import WatchPolicy
from bot.domain.watch.verdict import WatchColor, WatchVerdict
from tests.domain.watch.builders import R, at, inputs

GREEN, YELLOW, RED = WatchColor.GREEN, WatchColor.YELLOW, WatchColor.RED
INCONCLUSIVE, UNKNOWN = WatchColor.INCONCLUSIVE, WatchColor.UNKNOWN


def breach(seconds: float) -> WatchInputs:
    """Over W2's ceiling in the last minute (6 % of 100), with nothing else firing."""
    return inputs(age=seconds, window=(1000, 8), last=(100, 6))


def reading(color: WatchColor, seconds: float, requests: int = 1000) -> WatchVerdict:
    """An evaluation's verdict, ``seconds`` after R, with no findings."""
    return WatchVerdict(color, at(seconds), timedelta(seconds=seconds), (), (), requests)


def run(*colors: WatchColor, every: float = 15, requests: int = 1000) -> list[WatchUpdate]:
    """Advance a new watch through one evaluation per colour, ``every`` seconds apart."""
    state, updates = WatchState(origin=R), []
    for i, color in enumerate(colors, start=1):
        update = advance(state, reading(color, i * every, requests))
        updates.append(update)
        state = update.state
    return updates


def announced(updates: list[WatchUpdate]) -> list[WatchColor | None]:
    return [u.announced for u in updates]


def test_a_colour_is_announced_after_it_held_for_two_evaluations() -> None:
    updates = run(GREEN, GREEN, RED, GREEN, RED, RED, YELLOW)
    assert announced(updates) == [None, GREEN, GREEN, GREEN, GREEN, RED, RED]
    replies = [(i, u.announcement.color) for i, u in enumerate(updates) if u.announcement]
    assert replies == [(1, GREEN), (5, RED)]
    assert updates[5].state.announced_at == at(90)


@pytest.mark.parametrize("first", [INCONCLUSIVE, UNKNOWN])
def test_a_first_inconclusive_or_unknown_evaluation_is_announced_at_once(
    first: WatchColor,
) -> None:
    [update] = run(first)
    assert update.announcement is not None and update.announcement.color is first
    assert update.state.announced is first


@pytest.mark.parametrize("first", [GREEN, YELLOW, RED])
def test_a_first_colour_waits_for_the_second_evaluation(first: WatchColor) -> None:
    updates = run(first, first)
    assert announced(updates) == [None, first]


def test_a_later_inconclusive_needs_two_evaluations_too() -> None:
    assert announced(run(GREEN, INCONCLUSIVE, INCONCLUSIVE)) == [None, None, INCONCLUSIVE]
    assert announced(run(GREEN, GREEN, UNKNOWN, GREEN)) == [None, GREEN, GREEN, GREEN]


def test_first_inconclusive_then_the_real_colour() -> None:
    state = WatchState(origin=R)
    low = observe(state, inputs(age=15, window=(30, 0), reference=(30, 0), last=(30, 0)))
    assert low.announcement is not None
    assert low.announcement.reason() == (
        "not enough traffic yet: 30 requests in the last 15s (need 100)"
    )
    busy = observe(low.state, inputs(age=30, window=(300, 0)))
    assert busy.announced is INCONCLUSIVE  # green once: not yet
    busier = observe(busy.state, inputs(age=45, window=(450, 1)))
    assert busier.announcement is not None and busier.announced is GREEN


def test_green_needs_200_requests() -> None:
    few = run(GREEN, GREEN, GREEN, requests=150)
    assert announced(few) == [None, None, None]
    state = few[-1].state
    enough = advance(state, reading(GREEN, 50, requests=200))
    assert enough.announced is GREEN


def test_nothing_settled_within_a_minute_is_announced_as_inconclusive() -> None:
    flapping = run(GREEN, YELLOW, GREEN, YELLOW, GREEN, YELLOW)  # at 15, 30, ... 90 s
    assert announced(flapping) == [None, None, None, INCONCLUSIVE, INCONCLUSIVE, INCONCLUSIVE]
    reply = flapping[3].announcement
    assert reply is not None and reply.color is INCONCLUSIVE
    assert reply.reason() == (
        "no colour has held for 2 evaluations in a row yet (green, then yellow)"
    )
    late_inconclusive = run(GREEN, YELLOW, GREEN, INCONCLUSIVE)[-1].announcement
    assert late_inconclusive is not None and late_inconclusive.findings == ()
    quiet = run(GREEN, GREEN, GREEN, GREEN, requests=150)
    assert announced(quiet)[-1] is INCONCLUSIVE
    assert quiet[-1].announcement is not None
    assert quiet[-1].announcement.reason() == "only 150 requests so far (need 200 for green)"


def test_a_late_first_evaluation_is_not_cut_short() -> None:
    """Judged first at +5m (Herald was down): its colour still gets its second evaluation."""
    state = WatchState(origin=R)
    first = advance(state, reading(RED, 300))
    assert first.announced is None
    assert advance(first.state, reading(RED, 315)).announced is RED


def test_red_from_w2_is_announced_at_once() -> None:
    state = WatchState(origin=R)
    for seconds in (15, 30):
        state = observe(state, inputs(age=seconds)).state
    assert state.announced is GREEN
    over = observe(state, breach(45))
    assert over.verdict.color is GREEN and over.announced is GREEN
    again = observe(over.state, breach(60))
    assert again.verdict.fired_rules() == ("W2",)
    assert again.announcement is not None and again.announced is RED


def test_an_unreachable_prometheus_breaks_the_ceilings_streak() -> None:
    state = observe(WatchState(origin=R), breach(15)).state
    gone = observe(state, Unavailable(at=at(31), reason="Could not reach Prometheus"))
    assert gone.verdict.color is UNKNOWN and gone.verdict.at == at(30)
    assert gone.state.ceiling_streak == 0
    back = observe(gone.state, breach(45))
    assert back.verdict.fired_rules() == ()


def test_an_evaluation_seen_already_changes_nothing() -> None:
    first = advance(WatchState(origin=R), reading(INCONCLUSIVE, 15))
    repeat = advance(first.state, reading(RED, 15))
    assert repeat.state == first.state
    assert repeat.announcement is None
    assert advance(first.state, reading(RED, 10)).state == first.state


def test_the_state_survives_json() -> None:
    state = run(GREEN, GREEN, RED)[-1].state
    raw = state.encode()
    assert WatchState.decode(raw) == state
    assert '"announced":"green"' in raw
    with pytest.raises(ValidationError):
        WatchState.decode('{"origin": "yesterday"}')
    assert state.ends_at() == R + timedelta(minutes=15)
    assert state.ends_at(WatchPolicy(duration=timedelta(minutes=30))) == R + timedelta(minutes=30)


# -- properties --------------------------------------------------------------------------------

colors = st.sampled_from(list(WatchColor))


@given(
    pair=st.lists(colors, min_size=2, max_size=2, unique=True),
    length=st.integers(2, 40),
    settled=st.sampled_from([None, *WatchColor]),
)
@settings(max_examples=300, deadline=None)
def test_a_flapping_series_never_changes_the_announced_colour(
    pair: list[WatchColor], length: int, settled: WatchColor | None
) -> None:
    state = WatchState(origin=R, announced=settled, evaluations=0 if settled is None else 5)
    if settled is not None:
        state = replace(state, announced_at=at(0), last_at=at(0))
    first_announced: WatchColor | None = None
    for i in range(length):
        update = advance(state, reading(pair[i % 2], 15 * (i + 1)))
        if state.announced is not None:
            assert update.announcement is None
            assert update.announced is state.announced
        elif update.announced is not None:
            first_announced = update.announced
        state = update.state
    if settled is None and first_announced is not None:
        assert state.announced is first_announced


@given(st.lists(colors, min_size=1, max_size=40), st.integers(0, 400))
@settings(max_examples=300, deadline=None)
def test_every_announcement_is_one_the_rules_allow(series: list[WatchColor], requests: int) -> None:
    policy, state = WatchPolicy(), WatchState(origin=R)
    seen: list[WatchColor] = []
    for i, color in enumerate(series):
        update = advance(state, reading(color, 15 * (i + 1), requests))
        seen.append(color)
        if (reply := update.announcement) is not None:
            assert reply.color is not state.announced
            held = len(seen) >= policy.hold and len(set(seen[-policy.hold :])) == 1
            first = i == 0 and color in (INCONCLUSIVE, UNKNOWN)
            unsettled = reply.color is INCONCLUSIVE and state.announced is None
            assert held or first or unsettled, (seen, reply.color)
            if reply.color is GREEN:
                assert requests >= policy.min_requests_green
        state = update.state
        assert WatchState.decode(state.encode()) == state
