"""Prometheus's wire format: sample values and timestamps out, time and step parameters in."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from standins.prometheus.promql import BadData, parse_duration


def format_value(value: float) -> str:
    """Prometheus's sample values: ``"5200"``, ``"0.40625"``, ``"NaN"``, ``"+Inf"``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text else text


def format_timestamp(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def parse_time_ms(params: Mapping[str, str], name: str, default: float | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadData(f'invalid parameter "{name}": cannot parse "" to a valid timestamp')
        return round(default * 1000)
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            said = f'cannot parse "{raw}" to a valid timestamp'
            prefix = f"Invalid time value for '{name}': " if name == "time" else ""
            raise BadData(f'invalid parameter "{name}": {prefix}{said}') from None
    if not math.isfinite(seconds):
        raise BadData(f'invalid parameter "{name}": cannot parse "{raw}" to a valid timestamp')
    return round(seconds * 1000)


def parse_step_ms(raw: str | None) -> int:
    text = raw or ""
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parse_duration(text)
        except ValueError:
            said = f'cannot parse "{text}" to a valid duration'
            raise BadData(f'invalid parameter "step": {said}') from None
    if not seconds > 0:
        raise BadData(
            'invalid parameter "step": zero or negative query resolution step widths are not '
            "accepted. Try a positive integer"
        )
    return max(1, round(seconds * 1000))
