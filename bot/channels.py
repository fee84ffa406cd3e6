"""Where a service's release messages go: its own Slack channels from the catalogue, else
HERALD_FEED_CHANNEL and HERALD_OPS_CHANNEL.

Slack lets a bot post about one message per second in a channel, so one feed channel cannot
keep pace with a storm of releases; a big service gets channels of its own, and each channel
has its own sender (bot/slack/delivery.py). The domain only knows a notice's channel role
(`feed` or `ops`); the Ledger picks the channel from the service (bot/store/ledger.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

if TYPE_CHECKING:
    from bot.catalog import Catalog

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


def _channel_id(value: str) -> str:
    if not _CHANNEL_ID.match(value):
        raise ValueError(f"must be a Slack channel id such as C0123ABCD, got {value!r}")
    return value


ChannelId = Annotated[str, AfterValidator(_channel_id)]


class ServiceChannels(BaseModel):
    """`channels: {feed: C…, ops: C…}` of a service; a role left out keeps the global one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feed: ChannelId | None = None  # the release's card and its thread
    ops: ChannelId | None = None  # the incident: failure, rollback, recovery, and its thread

    def by_role(self) -> dict[str, str]:
        return {
            role: channel for role, channel in (("feed", self.feed), ("ops", self.ops)) if channel
        }


def service_channels(catalog: Catalog) -> dict[str, dict[str, str]]:
    """service → {channel role → channel id}, for the services that have channels of their own
    (`approvals`: where its approval requests go, its ops channel unless it names one)."""
    found = {}
    for name, service in catalog.services.items():
        routes = service.channels.by_role() if service.channels is not None else {}
        if service.approvals is not None and service.approvals.channel:
            routes["approvals"] = service.approvals.channel
        elif "ops" in routes:
            routes["approvals"] = routes["ops"]  # approval requests go where its ops go
        if routes:
            found[name] = routes
    return found
