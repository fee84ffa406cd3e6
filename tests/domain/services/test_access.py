"""Who may pause, promote and roll back: owners, group members, admins; unsure means no."""

from __future__ import annotations

from bot.domain.services.access import GroupLookupError, check_access
from bot.domain.services.directory import ServiceEntry
from bot.slack.mrkdwn import render

WEBAPP = ServiceEntry("webapp", owners=("U_OWNER", "S_BILLING"), admins=("U_SVCADMIN",))


class Groups:
    def __init__(self, members: dict[str, set[str]], *, broken: set[str] | None = None) -> None:
        self._members = members
        self._broken = broken or set()
        self.lookups: list[str] = []

    async def members(self, group_id: str) -> frozenset[str]:
        self.lookups.append(group_id)
        if group_id in self._broken:
            raise GroupLookupError("Slack answered ratelimited")
        return frozenset(self._members.get(group_id, set()))


async def test_owner_needs_no_group_lookup() -> None:
    groups = Groups({})
    decision = await check_access(user="U_OWNER", entry=WEBAPP, admins=(), groups=groups)
    assert decision.allowed
    assert groups.lookups == []


async def test_group_member_and_admins_are_allowed() -> None:
    groups = Groups({"S_BILLING": {"U_MEMBER"}})
    assert (await check_access(user="U_MEMBER", entry=WEBAPP, admins=(), groups=groups)).allowed
    assert (await check_access(user="U_SVCADMIN", entry=WEBAPP, admins=(), groups=groups)).allowed
    assert (
        await check_access(user="U_BOSS", entry=WEBAPP, admins=("U_BOSS",), groups=groups)
    ).allowed


async def test_stranger_is_refused_and_told_who_may() -> None:
    decision = await check_access(user="U_STRANGER", entry=WEBAPP, admins=(), groups=Groups({}))
    assert not decision.allowed
    assert "Only owners of webapp (<@U_OWNER>, <!subteam^S_BILLING>)" in render(decision.reason)


async def test_failed_group_lookup_refuses() -> None:
    groups = Groups({}, broken={"S_BILLING"})
    decision = await check_access(user="U_MEMBER", entry=WEBAPP, admins=(), groups=groups)
    assert not decision.allowed
    assert "could not check membership" in render(decision.reason)
    assert "ratelimited" in render(decision.reason)
