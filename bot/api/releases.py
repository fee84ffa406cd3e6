"""The ingest API: manifests in, lifecycle events in, releases out (docs/design.md interfaces)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.api.http import parse_limit, parse_model, read_json_object, require_bearer
from bot.catalog_approvals import approval_policy
from bot.deps import DEPS, Deps
from bot.domain.approval.policy import need_for
from bot.domain.dependencies.graph import unmet_requirements
from bot.domain.gate.decision import decide_gate
from bot.domain.rehearsal.model import RehearsalRequest
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.recording import Outcome, record_event, register_release
from bot.domain.transactions import run_in_transaction
from bot.errors import NotFound
from bot.store.queries import describe_release, get_release_detail, list_releases
from bot.store.rehearsals import add_rehearsal
from bot.store.releases import SqlReleaseReader


async def post_release(request: web.Request) -> web.Response:
    deps = _authorized(request)
    manifest = parse_model(Manifest, await read_json_object(request))
    policy = approval_policy(deps.catalog, manifest.service_name)
    need = need_for(policy, manifest.risk)
    outcome = await run_in_transaction(
        deps.ledgers,
        lambda ledger: register_release(
            ledger=ledger, manifest=manifest, now=deps.clock(), need=need
        ),
    )
    return _outcome_response(outcome)


async def post_event(request: web.Request) -> web.Response:
    deps = _authorized(request)
    release_id = request.match_info["release_id"]
    data = await read_json_object(request)
    event_request = parse_model(EventRequest, data)
    # only a start is marked in a freeze: every other event skips the read (the ingest path)
    starts = event_request.event is EventType.STARTED
    freezes = await deps.freezes.calendar(now=deps.clock()) if starts else None
    unmet = await _unmet(deps, release_id) if starts else []
    outcome = await run_in_transaction(
        deps.ledgers,
        lambda ledger: record_event(
            ledger=ledger,
            release_id=release_id,
            request=event_request,
            now=deps.clock(),
            freezes=freezes,
            unmet=unmet,
        ),
    )
    return _outcome_response(outcome)


async def get_release(request: web.Request) -> web.Response:
    deps = _authorized(request)
    release_id = request.match_info["release_id"]
    detail = await get_release_detail(database=deps.database, release_id=release_id)
    if detail is None:
        raise NotFound(f"no release with id {release_id}")
    return web.json_response(detail)


async def get_gate(request: web.Request) -> web.Response:
    """Go or no-go for the release, with every reason (`herald emit gate` asks it)."""
    deps = _authorized(request)
    reader = SqlReleaseReader(database=deps.database)
    release_id = request.match_info["release_id"]
    release = await reader.by_id(release_id)
    if release is None:
        raise NotFound(f"no release with id {release_id}")
    freezes = await deps.freezes.calendar(now=deps.clock())
    answer = await decide_gate(release=release, releases=reader, freezes=freezes, now=deps.clock())
    return web.json_response(answer.as_json())


async def post_rehearsal(request: web.Request) -> web.Response:
    """A rollback of the release's version rehearsed in another env (staging, say)."""
    deps = _authorized(request)
    rehearsal_request = parse_model(RehearsalRequest, await read_json_object(request))
    release_id = request.match_info["release_id"]
    release = await SqlReleaseReader(database=deps.database).by_id(release_id)
    if release is None:
        raise NotFound(f"no release with id {release_id}")
    rehearsal = await add_rehearsal(
        deps.database, release=release, request=rehearsal_request, now=deps.clock()
    )
    body = {"release_id": release.id, "rehearsal": rehearsal.as_json()}
    return web.json_response(body, status=201)


async def get_releases(request: web.Request) -> web.Response:
    deps = _authorized(request)
    query = request.query
    limit = parse_limit(query.get("limit"))
    releases = await list_releases(
        database=deps.database,
        service=query.get("service"),
        env=query.get("env"),
        limit=limit,
    )
    return web.json_response({"releases": releases})


async def _unmet(deps: Deps, release_id: str) -> list[str]:
    """What the release requires and does not run where it needs it (a start says so)."""
    reader = SqlReleaseReader(database=deps.database)
    release = await reader.by_id(release_id)
    return await unmet_requirements(reader, release) if release is not None else []


def _authorized(request: web.Request) -> Deps:
    deps = request.app[DEPS]
    token = deps.settings.ingest_token
    require_bearer(request, token.get_secret_value() if token else None)
    return deps


def _outcome_response(outcome: Outcome) -> web.Response:
    body: dict[str, Any] = {
        "release": describe_release(outcome.release),
        "event": outcome.event.payload.flat(),
        "created": outcome.created,
    }
    return web.json_response(body, status=201 if outcome.created else 200)
