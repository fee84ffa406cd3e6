"""Block Kit, modal, message content and metadata checks for the fake Slack Web API.

Each validator returns a list of error strings (empty when valid), in the style of
Slack's ``invalid_blocks`` answers: ``"<problem> [json-pointer:/blocks/0/text/text]"``.
Limits follow docs/contracts.md §1.8 (slack_sdk validators and Block Kit docs).
"""

from __future__ import annotations

from typing import Any

from standins.slack_messages import SlackError

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
BLOCK_TYPES = frozenset(
    {
        "section",
        "header",
        "context",
        "actions",
        "divider",
        "image",
        "rich_text",
        "markdown",
        "input",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
_MAX_ID = 255


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, problem: str) -> None:
        self.errors.append(f"{problem} [json-pointer:{path}]")

    def max_len(self, path: str, value: object, limit: int) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            self.fail(path, "must be a string")
        elif len(value) > limit:
            self.fail(path, f"must be at most {limit} characters (got {len(value)})")

    def text(
        self, path: str, obj: object, limit: int | None = None, *, plain_only: bool = False
    ) -> None:
        if not isinstance(obj, dict):
            self.fail(path, "must be a text object")
            return
        kind = obj.get("type")
        if kind not in TEXT_TYPES:
            self.fail(
                f"{path}/type", f"text object type must be plain_text or mrkdwn, not {kind!r}"
            )
        elif plain_only and kind != "plain_text":
            self.fail(f"{path}/type", "must be plain_text")
        text = obj.get("text")
        if not isinstance(text, str):
            self.fail(f"{path}/text", "must be a string")
        elif limit is not None:
            self.max_len(f"{path}/text", text, limit)

    def confirm(self, path: str, obj: object) -> None:
        if not isinstance(obj, dict):
            self.fail(path, "must be a confirmation object")
            return
        for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
            if key in obj:
                self.text(f"{path}/{key}", obj[key], limit, plain_only=key != "text")

    def options(self, path: str, options: object, limit: int) -> None:
        if not isinstance(options, list):
            self.fail(path, "must be an array")
            return
        if len(options) > limit:
            self.fail(path, f"must have at most {limit} items (got {len(options)})")
        for i, option in enumerate(options):
            if not isinstance(option, dict):
                self.fail(f"{path}/{i}", "must be an option object")
                continue
            self.text(f"{path}/{i}/text", option.get("text"), 75)
            self.max_len(f"{path}/{i}/value", option.get("value"), 150)

    def element(self, path: str, element: object) -> None:
        if not isinstance(element, dict):
            self.fail(path, "must be an element object")
            return
        kind = element.get("type")
        if not isinstance(kind, str):
            self.fail(f"{path}/type", "missing element type")
            return
        self.max_len(f"{path}/action_id", element.get("action_id"), _MAX_ID)
        if "confirm" in element:
            self.confirm(f"{path}/confirm", element["confirm"])
        if kind == "button":
            self.text(f"{path}/text", element.get("text"), 75, plain_only=True)
            self.max_len(f"{path}/value", element.get("value"), 2000)
            self.max_len(f"{path}/url", element.get("url"), 3000)
        elif kind == "static_select" and "options" in element:
            self.options(f"{path}/options", element["options"], 100)
        elif kind == "overflow":
            self.options(f"{path}/options", element.get("options"), 5)
        elif kind == "image":
            self.max_len(f"{path}/alt_text", element.get("alt_text"), 2000)
        elif kind in TEXT_TYPES:
            self.text(path, element)

    def elements(self, path: str, elements: object, limit: int, *, context: bool = False) -> None:
        if not isinstance(elements, list):
            self.fail(path, "must be an array")
            return
        if len(elements) > limit:
            self.fail(path, f"must have at most {limit} elements (got {len(elements)})")
        action_ids: set[str] = set()
        for i, element in enumerate(elements):
            if context and isinstance(element, dict) and element.get("type") != "image":
                self.text(f"{path}/{i}", element)
            else:
                self.element(f"{path}/{i}", element)
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if isinstance(action_id, str):
                if action_id in action_ids:
                    self.fail(f"{path}/{i}/action_id", f"duplicate action_id {action_id!r}")
                action_ids.add(action_id)

    def block(self, path: str, block: object) -> None:
        if not isinstance(block, dict):
            self.fail(path, "must be a block object")
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.fail(f"{path}/type", f"unsupported block type {kind!r}")
            return
        self.max_len(f"{path}/block_id", block.get("block_id"), _MAX_ID)
        if kind == "section":
            if "text" not in block and "fields" not in block:
                self.fail(path, "section must have text or fields")
            if "text" in block:
                self.text(f"{path}/text", block["text"], 3000)
            if "fields" in block:
                fields = block["fields"]
                if not isinstance(fields, list):
                    self.fail(f"{path}/fields", "must be an array")
                else:
                    if len(fields) > 10:
                        self.fail(
                            f"{path}/fields", f"must have at most 10 items (got {len(fields)})"
                        )
                    for i, field in enumerate(fields):
                        self.text(f"{path}/fields/{i}", field, 2000)
            if "accessory" in block:
                self.element(f"{path}/accessory", block["accessory"])
        elif kind == "header":
            self.text(f"{path}/text", block.get("text"), 150, plain_only=True)
        elif kind == "context":
            self.elements(f"{path}/elements", block.get("elements"), 10, context=True)
        elif kind == "actions":
            self.elements(f"{path}/elements", block.get("elements"), 25)
        elif kind == "image":
            self.max_len(f"{path}/alt_text", block.get("alt_text"), 2000)
        elif kind == "markdown":
            if not isinstance(block.get("text"), str):
                self.fail(f"{path}/text", "must be a string")
            self.max_len(f"{path}/text", block.get("text"), 12000)
        elif kind == "input":
            self.text(f"{path}/label", block.get("label"), 2000, plain_only=True)
            self.element(f"{path}/element", block.get("element"))

    def blocks(self, path: str, blocks: object, limit: int) -> None:
        if not isinstance(blocks, list):
            self.fail(path, "blocks must be an array")
            return
        if len(blocks) > limit:
            self.fail(path, f"no more than {limit} items allowed (got {len(blocks)})")
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            self.block(f"{path}/{i}", block)
            block_id = block.get("block_id") if isinstance(block, dict) else None
            if isinstance(block_id, str):
                if block_id in block_ids:
                    self.fail(f"{path}/{i}/block_id", f"duplicate block_id {block_id!r}")
                block_ids.add(block_id)


def validate_blocks(blocks: object, *, limit: int = MAX_MESSAGE_BLOCKS) -> list[str]:
    """Errors for a message's ``blocks`` (already JSON-decoded)."""
    checker = _Checker()
    checker.blocks("/blocks", blocks, limit)
    return checker.errors


def validate_view(view: object) -> list[str]:
    """Errors for a ``views.open`` modal (already JSON-decoded)."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.fail("/view", "must be an object")
        return checker.errors
    if view.get("type") != "modal":
        checker.fail("/view/type", f"must be 'modal', not {view.get('type')!r}")
    checker.text("/view/title", view.get("title"), 24, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            checker.text(f"/view/{key}", view[key], 24, plain_only=True)
    checker.max_len("/view/private_metadata", view.get("private_metadata"), 3000)
    checker.max_len("/view/callback_id", view.get("callback_id"), _MAX_ID)
    blocks = view.get("blocks")
    checker.blocks("/view/blocks", blocks, MAX_VIEW_BLOCKS)
    has_input = isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "input" for b in blocks
    )
    if has_input and "submit" not in view:
        checker.fail("/view/submit", "submit is required when a view has input blocks")
    return checker.errors


def validate_home(view: object) -> list[str]:
    """Errors for a ``views.publish`` Home tab (already JSON-decoded): 100 blocks at most,
    no title, submit or close (a Home tab has none)."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.fail("/view", "must be an object")
        return checker.errors
    if view.get("type") != "home":
        checker.fail("/view/type", f"must be 'home', not {view.get('type')!r}")
    for key in ("title", "submit", "close"):
        if key in view:
            checker.fail(f"/view/{key}", "a Home tab has no " + key)
    checker.max_len("/view/private_metadata", view.get("private_metadata"), 3000)
    checker.max_len("/view/callback_id", view.get("callback_id"), _MAX_ID)
    checker.blocks("/view/blocks", view.get("blocks"), MAX_VIEW_BLOCKS)
    return checker.errors


def is_valid_metadata(metadata: object) -> bool:
    """Message metadata must be ``{"event_type": str, "event_payload": object}``."""
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and bool(metadata["event_type"])
        and isinstance(metadata.get("event_payload"), dict)
    )


def message_content(args: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]] | None]:
    """The text and blocks of a ``chat.*`` call, refused as Slack refuses them."""
    text, blocks, markdown = args.get("text"), args.get("blocks"), args.get("markdown_text")
    if markdown is not None:
        if text or blocks:
            raise SlackError("markdown_text_conflict")
        if len(str(markdown)) > 12_000:
            raise SlackError("msg_too_long")
        text = markdown
    if blocks is not None:
        if isinstance(blocks, str):
            raise SlackError("invalid_blocks_format")
        if errors := validate_blocks(blocks):
            messages = [f"[ERROR] {e}" for e in errors]
            raise SlackError(
                "invalid_blocks", errors=errors, response_metadata={"messages": messages}
            )
    if not text and not blocks and not args.get("attachments"):
        raise SlackError("no_text")
    if text is not None and len(str(text)) > 40_000:
        raise SlackError("msg_too_long")
    return None if text is None else str(text), blocks


def message_metadata(args: dict[str, Any], *, clearable: bool = False) -> dict[str, Any] | None:
    """The ``metadata`` of a call, or None when absent. With ``clearable`` (``chat.update``),
    an empty object is accepted: it removes the message's metadata."""
    metadata = args.get("metadata")
    if metadata in (None, ""):
        return None
    if clearable and metadata == {}:
        return {}
    if not is_valid_metadata(metadata):
        raise SlackError("invalid_metadata_format")
    return dict(metadata)
