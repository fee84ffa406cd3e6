"""`herald emit gate RELEASE_ID [--wait 30m]`: CI's go/no-go step. Asks
`GET /api/v1/releases/{id}/gate` until the answer is decided or the wait is over, prints every
reason, and exits 0 (go), 1 (rejected, or Herald refused the question) or 2 (frozen, still
pending when the wait ran out, or Herald unreachable to the end)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from bot.cli.emit import get_json

EXIT = {"go": 0, "rejected": 1, "frozen": 2}


def run_gate(
    *,
    base: str,
    token: str,
    release_id: str,
    wait: float,
    every: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Ask, and ask again every `every` seconds while pending or unreachable, up to `wait`."""
    url = f"{base}/api/v1/releases/{release_id}/gate"
    deadline = clock() + wait
    said = ""
    while True:
        try:
            answer = get_json(url=url, token=token)
        except ValueError as exc:  # an unusable HERALD_URL: asking again will not help
            print(f"herald emit gate: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            answer, problem = None, f"herald emit gate: {exc}"
        if answer is not None and not answer.ok:
            print(answer.describe(), file=sys.stderr)
            return 1
        if answer is not None:
            decision = str(answer.body.get("decision"))
            problem = describe(answer.body)
            if decision in EXIT:
                print(problem, file=sys.stdout if decision == "go" else sys.stderr)
                return EXIT[decision]
        if problem != said:  # say each new state once while waiting
            print(problem, file=sys.stderr)
            said = problem
        if clock() + every > deadline:
            print(f"herald emit gate: still not decided after {wait:g} s", file=sys.stderr)
            return 2
        sleep(every)


def describe(body: dict[str, Any]) -> str:
    """`gate: frozen for rel-1 (webapp prod 1.2.0)` and a line per reason."""
    head = (
        f"gate: {body.get('decision')} for {body.get('release_id')}"
        f" ({body.get('service')} {body.get('env')} {body.get('version')})"
    )
    reasons = [f"  - {reason.get('message')}" for reason in body.get("reasons", [])]
    return "\n".join([head, *reasons])


__all__ = ["EXIT", "describe", "run_gate"]
