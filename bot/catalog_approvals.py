"""`approvals:` of a service in the catalogue: who approves its normal and emergency changes
and where the requests go (README.md, Go/no-go approvals)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from bot.channels import ChannelId
from bot.domain.approval.policy import ApprovalPolicy

if TYPE_CHECKING:
    from bot.catalog import Catalog

Approver = Annotated[str, StringConstraints(pattern=r"^[UWS][A-Z0-9]{2,}$")]


class Approvals(BaseModel):
    """`{approvers: [U…, S…], normal: 1|2, emergency: 1, channel: C…}`. `normal: 2` asks for
    two approvers from different entries of `approvers` (two user groups: the CAB case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approvers: list[Approver] = Field(min_length=1, max_length=50)
    normal: Literal[1, 2] = 1
    emergency: Literal[1] = 1  # expedited: one approver, then a post-release review
    channel: ChannelId | None = None  # where requests are posted; default the ops channel
    max_burn: float = Field(1.0, gt=0, le=1000)  # the checklist's error-budget burn threshold
    slo: float = Field(0.999, gt=0, lt=1)

    @model_validator(mode="after")
    def _enough_approvers(self) -> Self:
        if self.normal == 2 and len(set(self.approvers)) < 2:
            raise ValueError("approvers: normal: 2 needs at least two different approvers")
        return self

    def policy(self) -> ApprovalPolicy:
        return ApprovalPolicy(
            approvers=tuple(self.approvers),
            normal=self.normal,
            emergency=self.emergency,
            max_burn=self.max_burn,
            slo=self.slo,
        )


def approval_policy(catalog: Catalog, service: str) -> ApprovalPolicy | None:
    """The service's policy; None: none of its changes needs approval."""
    entry = catalog.services.get(service)
    return entry.approvals.policy() if entry is not None and entry.approvals else None
