"""A file from the outbox (a weekly report's chart) shared in its report's thread, with
files_upload_v2 (files.getUploadURLExternal, the upload, files.completeUploadExternal)."""

from __future__ import annotations

import base64
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.observability import HeraldMetrics
from bot.slack.web_api import observed


async def share_file(
    client: AsyncWebClient,
    *,
    channel: str,
    body: dict[str, Any],
    thread_ts: str | None,
    metrics: HeraldMetrics | None,
) -> None:
    """Upload the body's file (`file_b64`, `filename`, `title`, `alt_txt`) to `channel`,
    in the thread of `thread_ts` when there is one."""
    upload = client.files_upload_v2(
        channel=channel,
        thread_ts=thread_ts,
        file=base64.b64decode(body["file_b64"]),
        filename=str(body["filename"]),
        title=str(body.get("title") or body["filename"]),
        alt_txt=str(body.get("alt_txt") or ""),
    )
    await observed(metrics, "files.uploadV2", upload)
