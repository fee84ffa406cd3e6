"""Which Slack channel a notice is queued in: its service's own, else the global one, and a
reply where its thread's root went.

A service may have channels of its own (`channels:` in the catalogue, bot/channels.py): Slack
lets a bot post about one message per second in a channel, and each channel has its own
sender (bot/slack/delivery.py). A thread root once queued never moves, so a reply follows its
root even when the catalogue gave the service other channels since. The roots this process
queued or looked up are remembered (a bounded number): a reply usually costs no lookup.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.release.model import Notice
from bot.store.keyed_messages import posted_in

ROOTS_KEPT = 20_000


class NoticeChannels:
    """Channel role (`feed`, `ops`) → channel, per service; shared by a factory's ledgers."""

    def __init__(
        self,
        channels: Mapping[str, str],
        *,
        by_service: Mapping[str, Mapping[str, str]] | None = None,
        kept: int = ROOTS_KEPT,
    ) -> None:
        self._channels = channels
        self._by_service = by_service or {}
        self._kept = kept
        self._roots: dict[tuple[str, str], str] = {}  # (release, root role) → its channel

    def routed(self, service: str, channel_role: str) -> str:
        """The service's own channel for the role, else the global one (for approval
        requests, the ops channel unless one is set)."""
        own = self._by_service.get(service)
        if own and (found := own.get(channel_role)):
            return found
        if channel_role == "approvals" and channel_role not in self._channels:
            return self.routed(service, "ops")
        return self._channels[channel_role]

    async def channel_of(
        self, session: AsyncSession, notice: Notice, *, role: str, thread_role: str | None
    ) -> str:
        """Where the notice queued under `role` goes (an update: see queue_update)."""
        release = notice.release
        channel = self.routed(release.service, notice.audience.channel_role)
        if notice.opens_thread:
            self._remember((release.id, role), channel)
        elif thread_role is not None:
            return await self._root_channel(session, (release.id, thread_role)) or channel
        return channel

    async def _root_channel(self, session: AsyncSession, key: tuple[str, str]) -> str | None:
        if (known := self._roots.get(key)) is not None:
            return known
        found = await posted_in(session, release_id=key[0], role=key[1])
        if found is not None:
            self._remember(key, found)
        return found

    def _remember(self, key: tuple[str, str], channel: str) -> None:
        self._roots[key] = channel
        if len(self._roots) > self._kept:
            del self._roots[next(iter(self._roots))]  # the oldest release's
