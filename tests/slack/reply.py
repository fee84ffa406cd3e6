"""What Herald answers in Slack, read the way a person reads it: text, blocks, buttons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Button:
    """A button in a message; clicking it sends back its action id and value."""

    action_id: str
    value: str
    element: Mapping[str, Any]

    @classmethod
    def of(cls, element: Mapping[str, Any]) -> Button:
        return cls(str(element["action_id"]), str(element["value"]), element)

    @property
    def confirm(self) -> Mapping[str, Any] | None:
        """The confirmation dialog Slack shows before it sends the click, if any."""
        confirm: Mapping[str, Any] | None = self.element.get("confirm")
        return confirm


def buttons_in(blocks: Sequence[Mapping[str, Any]]) -> dict[str, Button]:
    """Every button of the actions blocks, by action id (the first of each)."""
    found: dict[str, Button] = {}
    for block in blocks:
        if block["type"] != "actions":
            continue
        for element in block["elements"]:
            if element.get("type") == "button":
                found.setdefault(str(element["action_id"]), Button.of(element))
    return found


def button_in(blocks: Sequence[Mapping[str, Any]], action_id: str) -> Button:
    found = buttons_in(blocks)
    assert action_id in found, f"no {action_id} button; there are {sorted(found)}"
    return found[action_id]


@dataclass(frozen=True)
class Ack:
    """Herald's answer to the request itself, and where its reply will be posted."""

    status: int
    body: str
    key: str  # the response URL key the reply is posted under


@dataclass(frozen=True)
class Reply:
    """One message Herald posted to a command's or a click's response URL."""

    key: str
    body: Mapping[str, Any]

    @property
    def text(self) -> str:
        text = self.body["text"]
        assert isinstance(text, str), self.body
        return text

    @property
    def blocks(self) -> list[Mapping[str, Any]]:
        return list(self.body.get("blocks", []))

    @property
    def ephemeral(self) -> bool:
        """Shown to the asker only (Slack's default for a response URL)."""
        return bool(self.body.get("response_type", "ephemeral") == "ephemeral")

    @property
    def block_text(self) -> str:
        """The text of every block that has one, a block a line."""
        return "\n".join(b["text"]["text"] for b in self.blocks if isinstance(b.get("text"), dict))

    @property
    def notes(self) -> list[str]:
        """The small print: every text of the context blocks."""
        return [
            str(e["text"]) for b in self.blocks if b["type"] == "context" for e in b["elements"]
        ]

    @property
    def buttons(self) -> dict[str, Button]:
        return buttons_in(self.blocks)

    def button(self, action_id: str) -> Button:
        return button_in(self.blocks, action_id)
