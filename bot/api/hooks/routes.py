"""Webhooks from Argo CD Notifications, Argo Rollouts notifications and Alertmanager.

Thin handlers: check the token, parse the body, claim the delivery in the inbox, hand the
work to `bot.domain.signals.deploy` / `bot.domain.signals.alerts`, answer.

- Auth: `Authorization: Bearer <HERALD_INGEST_TOKEN>` or `X-Herald-Token: <token>`
  (Argo's webhook service sets headers; Alertmanager sends a bearer token) → else 401;
  when both are sent, both must be right.
- 400 unreadable JSON, 422 schema violations (by path), 200 for everything Herald took in,
  including signals it decided to ignore (`{"ignored": why}`) and duplicates
  (`{"duplicate": true}`), so senders never retry what cannot succeed.
- Every delivery is recorded in the inbox before Herald acts on it; if acting then fails,
  the claim is withdrawn and the answer is 5xx, so the sender's retry (Argo and
  Alertmanager both retry 5xx, and treat 4xx as final) gets a second chance.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from sqlmodel import col, delete

from bot.api.hooks.alertmanager import AlertmanagerWebhook
from bot.api.hooks.argo import ArgoCDNotification, RolloutNotification
from bot.api.http import parse_model, read_json_object, require_credentials
from bot.catalog import build_directory
from bot.deps import DEPS, Deps
from bot.domain.signals.alerts import Alert, AlertDecision, take_alerts
from bot.domain.signals.deploy import Ignored, place_signal, take_deploy_signal
from bot.domain.signals.mapping import DeploySignal
from bot.store.inbox import record_once, storage_key
from bot.store.releases import SqlReleaseReader
from bot.store.tables import InboxRow

__all__ = ["ALERT_PAGER", "TOKEN_HEADER", "AlertPager", "add_routes"]

log = logging.getLogger(__name__)
TOKEN_HEADER = "X-Herald-Token"
AlertPager = Callable[[AlertDecision], Awaitable[None]]
ALERT_PAGER: web.AppKey[AlertPager] = web.AppKey("herald_alert_pager")
"""Called once per release-scoped alert Herald took in: pages, and rolls back where the
service's policy says so (`partial_alert_pager` in bot/factories.py; tests may record)."""


def add_routes(app: web.Application) -> None:
    """Register `/hooks/argocd`, `/hooks/rollouts` and `/hooks/alertmanager`."""
    app.router.add_post("/hooks/argocd", post_argocd)
    app.router.add_post("/hooks/rollouts", post_rollouts)
    app.router.add_post("/hooks/alertmanager", post_alertmanager)


async def post_argocd(request: web.Request) -> web.Response:
    deps = _authorized(request)
    payload = parse_model(ArgoCDNotification, await read_json_object(request))
    return await _take_signal(deps, payload.to_signal())


async def post_rollouts(request: web.Request) -> web.Response:
    deps = _authorized(request)
    payload = parse_model(RolloutNotification, await read_json_object(request))
    return await _take_signal(deps, payload.to_signal())


async def post_alertmanager(request: web.Request) -> web.Response:
    deps = _authorized(request)
    payload = parse_model(AlertmanagerWebhook, await read_json_object(request))
    fresh: list[Alert] = []
    try:
        for alert in payload.to_alerts():
            if await _claim(deps, alert.inbox_key(), "alertmanager"):
                fresh.append(alert)
        if payload.alerts and not fresh:
            return web.json_response({"duplicate": True})
        decisions = await take_alerts(
            alerts=fresh,
            releases=SqlReleaseReader(database=deps.database),
            ledgers=deps.ledgers,
        )
    except Exception:
        await _forget(deps, [alert.inbox_key() for alert in fresh])
        raise
    await _page(request.app, decisions)
    return web.json_response(
        {
            "alerts": len(payload.alerts),
            "duplicates": len(payload.alerts) - len(fresh),
            "ignored": len(fresh) - len(decisions),
            "decisions": [_decision(d) for d in decisions],
        }
    )


async def _take_signal(deps: Deps, signal: DeploySignal) -> web.Response:
    where = place_signal(signal, build_directory(deps.catalog))
    if isinstance(where, Ignored):
        return _ignored(where.reason)
    key = signal.inbox_key()
    if not await _claim(deps, key, signal.source.value):
        return web.json_response({"duplicate": True})
    try:
        outcome = await take_deploy_signal(
            signal=signal,
            where=where,
            releases=SqlReleaseReader(database=deps.database),
            ledgers=deps.ledgers,
            clock=deps.clock,
            freezes=deps.freezes,
        )
    except Exception:
        await _forget(deps, [key])
        raise
    if outcome.ignored:
        log.info("deploy signal ignored", extra={"key": key, "reason": outcome.ignored})
    return web.json_response(outcome.as_dict())


async def _page(app: web.Application, decisions: Sequence[AlertDecision]) -> None:
    """Hand each decision to the pager hook, if one is wired; its failure is logged, not
    answered: the notes are stored, and a retry would be dropped as a duplicate anyway."""
    pager = app.get(ALERT_PAGER)
    if pager is None:
        return
    for decision in decisions:
        try:
            await pager(decision)
        except Exception:
            log.exception("alert pager failed", extra={"release_id": decision.release_id})


def _authorized(request: web.Request) -> Deps:
    """`X-Herald-Token`, `Authorization: Bearer` or both; each one sent must be right."""
    deps = request.app[DEPS]
    token = deps.settings.ingest_token
    require_credentials(request, token.get_secret_value() if token else None, header=TOKEN_HEADER)
    return deps


async def _claim(deps: Deps, key: str, source: str) -> bool:
    return await record_once(
        database=deps.database, key=key, source=source, now=deps.clock(), refresh=True
    )


async def _forget(deps: Deps, keys: Sequence[str]) -> None:
    """Withdraw claims whose work failed, so the sender's retry is not taken for a duplicate."""
    try:
        async with deps.database.transaction() as session:
            await session.execute(
                delete(InboxRow).where(col(InboxRow.key).in_([storage_key(k) for k in keys]))
            )
    except Exception:
        log.exception("could not withdraw inbox claims", extra={"keys": list(keys)})


def _ignored(reason: str) -> web.Response:
    return web.json_response({"ignored": reason})


def _decision(decision: AlertDecision) -> dict[str, Any]:
    return {
        "release": decision.release_id,
        "fingerprint": decision.fingerprint,
        "status": decision.status.value,
        "severity": decision.severity,
        "should_page": decision.should_page,
    }
