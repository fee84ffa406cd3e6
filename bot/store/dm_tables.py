"""Who asked for a DM when a release of their services ships or fails (bot/store/dms.py).
Imported by bot/store/tables.py, which registers every table."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from bot.store.types import utc_field


class DmSubscriberRow(SQLModel, table=True):
    __tablename__ = "dm_subscribers"

    user: str = Field(primary_key=True, max_length=64)
    since: datetime = utc_field()
