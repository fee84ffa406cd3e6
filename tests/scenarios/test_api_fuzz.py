"""A real `herald serve`, fuzzed over every route of its own OpenAPI description.

Schemathesis generates requests from `GET /api/v1/openapi.json` (built from the models the
handlers parse): bodies and parameters that fit the schema, and ones that break it on purpose.
Whatever arrives, Herald answers below 500, with a status the description lists, and a body
in the shape it documents for that status (every refusal: `{error, details}`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from standins.slack import FakeSlack
from tests.conftest import INGEST_TOKEN
from tests.herald_process import HeraldServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
# per route and mode (13 routes, 9 with input: at most 22 × EXAMPLES requests); a deeper run
# sets FUZZ_EXAMPLES, e.g. FUZZ_EXAMPLES=200 make test
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}"}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
CATALOG = {
    "services": {
        "webapp": {
            "owners": ["U0OWNER01"],
            "environments": {
                "prod": {
                    "argocd_app": "webapp-prod",
                    "rollout": {"name": "webapp", "namespace": "webapp"},
                }
            },
        }
    }
}


@pytest.fixture
async def herald(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[HeraldServer]:
    """`herald serve` as operators run it, with a catalogue so deploy signals reach the store."""
    catalog = tmp_path / "herald.yaml"
    catalog.write_text(yaml.safe_dump(CATALOG))
    server = HeraldServer(slack=slack, database=tmp_path / "herald.db", log=tmp_path / "log")
    server.env["HERALD_CONFIG"] = str(catalog)
    await server.start(within=30)
    yield server
    await server.stop()


async def test_no_request_to_any_route_is_answered_with_a_5xx(herald: HeraldServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{herald.url}/api/v1/openapi.json") as response,
    ):
        assert response.status == 200
        document = await response.json()
    hooks = {"/hooks/argocd", "/hooks/rollouts", "/hooks/alertmanager", "/slack/events"}
    assert hooks <= set(document["paths"])
    failures, sent = await asyncio.to_thread(fuzz, herald.url, document)
    assert failures == [], herald.log_tail()
    assert sent >= 9 * EXAMPLES  # every route was reached, not skipped


def fuzz(url: str, document: dict[str, Any]) -> tuple[list[str], int]:
    """Every operation, positive and (where it takes input) negative examples: what went
    wrong, one line each, and how many requests were sent."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), "every operation of the served description is valid"
        operation = result.ok()
        takes_input = any((operation.body, operation.query, operation.path_parameters))
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for mode in modes if takes_input else modes[:1]:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case: Case[Any]) -> None:
                nonlocal sent
                sent += 1
                failures.extend(answer_problems(case, url=url))

            send()
    return failures, sent


def answer_problems(case: Case[Any], *, url: str) -> list[str]:
    response = case.call(base_url=url, headers=AUTH, timeout=15)
    try:
        case.validate_response(response, checks=CHECKS, headers=AUTH)
    except (AssertionError, BaseExceptionGroup) as failure:  # one check failed, or several
        head = f"{case.method} {case.formatted_path} → {response.status_code}"
        return [f"{head}: {str(failure)[:600]}"]
    return []
