"""The one error `/deploy` parsing raises: what is wrong with the text and what to type."""

from __future__ import annotations

from bot.domain.text import Text, text
from bot.errors import DomainError


class CommandError(DomainError):
    """The text is not a command Herald can run; `text` says why and what to type (`message`
    is the same sentence in plain text)."""

    def __init__(self, message: Text | str) -> None:
        self.text = message if isinstance(message, Text) else text(message)
        super().__init__(self.text.plain())
