"""Text helpers shared by every message Herald writes. Pure functions."""

from __future__ import annotations

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_mrkdwn(text: str) -> str:
    """Escape exactly the three characters Slack asks for, so data cannot mention anyone."""
    return text.translate(_ESCAPES)


def display_version(version: str) -> str:
    """`1.42.0` → `v1.42.0`; a version that is not bare (`v2`, `main-9f4c`) is kept as is."""
    return f"v{version}" if version[:1].isdigit() else version


def format_duration(seconds: float) -> str:
    """28800 → `8h`, 5400 → `1h 30m`, 93784 → `1d 2h`, 42 → `42s`: the two largest units."""
    total = max(0, round(seconds))
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    parts: list[str] = []
    for suffix, size in units:
        amount, total = divmod(total, size)
        if amount or (parts and len(parts) < 2):
            parts.append(f"{amount}{suffix}")
        if len(parts) == 2:
            break
    parts = [p for p in parts if not p.startswith("0")] or ["0s"]
    return " ".join(parts)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"
