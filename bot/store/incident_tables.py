"""The incident of a failed release: its commander, latest update and the release that fixes it
forward (bot/store/incidents.py).
Imported by bot/store/tables.py, which registers every table."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from bot.store.types import utc_field


class IncidentRow(SQLModel, table=True):
    __tablename__ = "incidents"

    release_id: str = Field(primary_key=True, max_length=128)
    commander: str | None = Field(default=None, max_length=64)
    updates: int = 0
    symptom: str = Field(default="", max_length=300)
    blast_radius: str = Field(default="", max_length=300)
    flag_state: str = Field(default="", max_length=300)
    next_action: str = Field(default="", max_length=300)
    eta: str = Field(default="", max_length=300)
    fix_forward: str | None = Field(default=None, max_length=128, index=True)  # an id or version
    reminded_at: datetime | None = utc_field(nullable=True)  # the retro reminder was queued
    retro_link: str | None = Field(default=None, max_length=2000)
    retro_at: datetime | None = utc_field(nullable=True)
    updated_at: datetime | None = utc_field(nullable=True)
