"""Running one watch evaluation: gather, judge, keep the state, say it, act on red.

A release's watch is one message in its feed thread, edited at each evaluation, plus a reply
when the announced colour changes. Red does what a red checkup does (page once per release,
`release.failed`, the ops thread) and, where the service's policy has `on_red`, rolls back
through the path of `/deploy rollback`, sharing the release's one automatic rollback with the
checkups and alerts. A recovery watch is recorded by `recovery.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.checkup.checkup import describe_failure
from bot.domain.checkup.escalation import argocd_link, escalate
from bot.domain.checkup.metrics import MetricsUnavailable
from bot.domain.deploy.context import Operations
from bot.domain.deploy.tool import DeployToolError
from bot.domain.ports import Ledger
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Release
from bot.domain.signals.alert_rollback import carry_out_rollback, note_step
from bot.domain.signals.rollback_policy import already_rolled_back, take_auto_rollback
from bot.domain.text import Emoji, Text, text
from bot.domain.transactions import run_in_transaction
from bot.domain.watch.hysteresis import WatchUpdate, observe
from bot.domain.watch.inputs import Unavailable, WatchInputs
from bot.domain.watch.notices import watch_notices
from bot.domain.watch.queries import CanaryScope, WatchSource
from bot.domain.watch.recovery import record_recovery
from bot.domain.watch.report import age, clock
from bot.domain.watch.verdict import WatchColor, WatchVerdict
from bot.domain.watch.watch import LostWatch, Watch, WatchConfig, WatchPurpose
from bot.domain.watch.windows import first_evaluation, watch_windows

__all__ = ["WatchRunner", "watch_cause"]

log = logging.getLogger(__name__)


def watch_cause(watch_id: int) -> str:
    """The holder of the release's automatic-rollback claim when a watch takes it."""
    return f"herald:watch:{watch_id}"


@dataclass(frozen=True)
class WatchRunner:
    source: WatchSource
    operations: Operations
    config_for: Callable[[str, str], WatchConfig]

    async def run(self, watch: Watch) -> WatchUpdate | None:
        """One evaluation of a claimed watch (None when there was nothing to judge)."""
        ops = self.operations
        async with ops.ledgers() as ledger:
            release = await ledger.get_release(watch.release_id)
        assert release is not None, "a watch always belongs to a stored release"
        now = ops.clock()
        if ended := _ended(watch, release):
            await self._save(watch, due_at=now, finished=ended)
            return None
        if watch.rollback_owed:
            await self._roll_back(watch, release, rules="red before a restart", resume=True)
            return None
        if now < (first := first_evaluation(watch.origin)):
            await self._save(watch, due_at=first)
            return None
        config = self.config_for(watch.service, watch.env)
        watch = replace(watch, canary=await self._canary(watch, release, config))
        update, failed = await self._evaluate(watch, config, now=now)
        if watch.purpose is WatchPurpose.RECOVERY:
            await run_in_transaction(
                ops.ledgers,
                lambda ledger: record_recovery(
                    ledger, watch=watch, update=update, config=config, now=now, failed=failed
                ),
            )
            return update
        red = update.announcement is not None and update.announcement.color is WatchColor.RED
        # only a red announcement may roll back, and only the newest release
        newest = await ops.releases.latest(service=watch.service, env=watch.env) if red else None
        rules = await run_in_transaction(
            ops.ledgers,
            lambda ledger: self._record(
                ledger, watch, update, config=config, now=now, newest=newest, failed=failed
            ),
        )
        if rules:
            await self._roll_back(watch, release, rules=rules)
        return update

    async def _record(
        self,
        ledger: Ledger,
        watch: Watch,
        update: WatchUpdate,
        *,
        config: WatchConfig,
        now: datetime,
        newest: Release | None,
        failed: bool = False,
    ) -> str | None:
        """In one transaction: the state, the message, a reply on a colour change, and on red
        the page and the failure. Returns the fired rules when an auto-rollback is owed."""
        release = await ledger.get_release(watch.release_id)
        assert release is not None
        announcement, rules = update.announcement, None
        if announcement is not None and announcement.color is WatchColor.RED:
            reason = f"red early watch at {age(announcement.age)}"
            verdict, link = announcement.as_verdict(), argocd_link(self.operations, release)
            await escalate(
                ledger, release=release, verdict=verdict, reason=reason, now=now, argocd=link
            )
            release = await ledger.get_release(watch.release_id) or release
            rules = _rollback_rules(announcement, release=release, newest=newest, config=config)
        finished = "done" if watch.over(now) else None
        new = replace(watch, state=update.state, posted=True, rollback_owed=rules is not None)
        reason = update.verdict.reason()
        next_at = now + config.policy.interval
        saved = await ledger.save_watch(
            watch=new, due_at=next_at, finished=finished, reason=reason, failed=failed
        )
        if not saved:
            raise LostWatch(f"watch {watch.id}")
        status = _status(new, finished=finished, rolling_back=rules is not None)
        await ledger.enqueue(watch_notices(release, watch, new, update, status=status))
        return ", ".join(rules) if rules else None

    async def _roll_back(
        self, watch: Watch, release: Release, *, rules: str, resume: bool = False
    ) -> None:
        """Take the release's one automatic rollback and carry it out, or say who had it."""
        ops = self.operations
        held = await take_auto_rollback(
            ops.audit, release_id=release.id, cause=watch_cause(watch.id), at=ops.clock()
        )
        if held is not None:
            said = text("Not rolling back automatically: ", already_rolled_back(held.at), ".")
            await note_step(ops, release_id=release.id, said=said)
        else:
            log.warning("rolling back on a red early watch", extra={"release_id": release.id})
            where = ops.directory.resolve(release.service, release.env)
            started = text(
                Emoji("rewind"),
                f" Rolling back automatically: the early watch is red ({rules}); on-call is paged.",
            )
            await carry_out_rollback(
                ops, release_id=release.id, where=where, started=started, resume=resume
            )
        await self._save(replace(watch, rollback_owed=False), due_at=ops.clock())

    async def _save(self, watch: Watch, *, due_at: datetime, finished: str | None = None) -> None:
        async with self.operations.ledgers() as ledger:
            await ledger.save_watch(watch=watch, due_at=due_at, finished=finished, reason=None)

    async def _canary(
        self, watch: Watch, release: Release, config: WatchConfig
    ) -> CanaryScope | None:
        """During a canary, its pods' and the stable pods' template hashes (read once)."""
        deploy = self.operations.deploy
        in_canary = release.state is EventType.STARTED and watch.purpose is WatchPurpose.RELEASE
        if not (config.canary and in_canary) or deploy is None:
            return None
        if watch.canary is not None:
            return watch.canary
        where = self.operations.directory.resolve(release.service, release.env)
        if where.target is None:
            return None
        try:
            rollout = await deploy.get_rollout(where.target)
        except DeployToolError as exc:
            log.warning("cannot read the canary's pods: %s", exc, extra={"release_id": release.id})
            return None
        canary, stable = rollout.extra.get("pod_hash"), rollout.extra.get("stable_rs")
        return CanaryScope(canary, stable) if canary and stable and canary != stable else None

    async def _evaluate(
        self, watch: Watch, config: WatchConfig, *, now: datetime
    ) -> tuple[WatchUpdate, bool]:
        """Judge fresh inputs, and whether the evaluation failed: Prometheus unreachable, or
        judging raised. A failed one is UNKNOWN with its reason in the watch's message; it is
        counted and the watch carries on at its cadence (a later evaluation may succeed)."""
        try:
            inputs = await self._inputs(watch, config)
            update = observe(watch.state, inputs, policy=config.policy)
        except Exception as exc:
            reason = describe_failure(exc)
            extra = {"release_id": watch.release_id, "watch": watch.purpose.value}
            log.exception("watch evaluation could not be judged: %s", reason, extra=extra)
            unjudged = Unavailable(at=now, reason=f"Could not judge: {reason}", source="verdict")
            return observe(watch.state, unjudged, policy=config.policy), True
        return update, isinstance(inputs, Unavailable)

    async def _inputs(self, watch: Watch, config: WatchConfig) -> WatchInputs | Unavailable:
        now = self.operations.clock()
        windows = watch_windows(watch.origin, now, policy=config.policy)
        try:
            return await self.source.gather_watch(
                queries=config.queries,
                service=watch.service,
                env=watch.env,
                windows=windows,
                canary=watch.canary,
            )
        except MetricsUnavailable as exc:
            return Unavailable(at=now, reason=str(exc))


def _rollback_rules(
    verdict: WatchVerdict, *, release: Release, newest: Release | None, config: WatchConfig
) -> tuple[str, ...] | None:
    """The fired rules that may roll the release back, when its policy and state allow."""
    rules = tuple(r for r in verdict.fired_rules() if r in config.policy.auto_rollback_rules)
    live = newest is not None and newest.id == release.id
    if not (config.rollback.on_red and rules and live):
        return None
    return None if EventType.ROLLED_BACK in release.times else rules


def _ended(watch: Watch, release: Release) -> str | None:
    """A watch whose release moved on ends: rolled back (its recovery watch takes over) or
    recovered."""
    if EventType.RECOVERED in release.times:
        return "done"
    if watch.purpose is WatchPurpose.RELEASE and EventType.ROLLED_BACK in release.times:
        return "done"
    return None


def _status(watch: Watch, *, finished: str | None, rolling_back: bool) -> Text:
    if rolling_back:
        return text(Emoji("rewind"), " Rolling back automatically (policy: on red).")
    if finished:
        return text(f"Watch over at {clock(watch.ends_at)}; the scheduled checkups carry on.")
    return text(f"Watching until {clock(watch.ends_at)}.")
