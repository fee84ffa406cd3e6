"""The instants Herald takes in from outside: aware, and inside the range it can store. Pure.

A time at the edge of the calendar (`9999-12-31T23:59:59-05:00`) parses, but overflows once
converted to UTC for the store or moved by a window; one before 1970 is no release's. Every
time a manifest, an event or a webhook carries is a `Moment`: outside the range it is a
schema violation of that field (422 by path), not a crash later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

__all__ = ["EARLIEST", "LATEST", "Moment", "in_range"]

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def in_range(value: datetime) -> datetime:
    """`value` when it is from 1970 up to 2100 (compared as instants), else `ValueError`."""
    if not EARLIEST <= value < LATEST:
        raise ValueError("must be from 1970-01-01T00:00:00Z up to 2100-01-01T00:00:00Z")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(in_range)]
