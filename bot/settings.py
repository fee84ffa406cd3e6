"""One settings object, built once in main and passed down. Nothing reads it at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com"
DEFAULT_PAGERDUTY_API_URL = "https://api.pagerduty.com"
PLACEHOLDERS = frozenset({"changeme", "changethis", "xoxb-your-token", "secret", "todo"})


def _env(name: str) -> Any:
    """A field read from the stable environment name, or from its field name in tests."""
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """Herald's settings. Environment names are a stable interface (docs/design.md)."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", populate_by_name=True, frozen=True
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field(DEFAULT_SLACK_API_URL, validation_alias=_env("SLACK_API_URL"))
    feed_channel: str | None = Field(None, validation_alias=_env("HERALD_FEED_CHANNEL"))
    ops_channel: str | None = Field(None, validation_alias=_env("HERALD_OPS_CHANNEL"))
    database_url: str = Field("sqlite:///herald.db", validation_alias=_env("HERALD_DATABASE_URL"))
    config_path: Path | None = Field(None, validation_alias=_env("HERALD_CONFIG"))
    ingest_token: SecretStr | None = Field(None, validation_alias=_env("HERALD_INGEST_TOKEN"))
    # read-only, in the iCalendar feed's URL (?token=); unset: no feed
    calendar_token: SecretStr | None = Field(None, validation_alias=_env("HERALD_CALENDAR_TOKEN"))
    port: int = Field(3000, ge=0, le=65535, validation_alias=_env("HERALD_PORT"))
    host: str = Field("0.0.0.0", validation_alias=_env("HERALD_HOST"))
    argocd_url: str | None = Field(None, validation_alias=_env("ARGOCD_URL"))
    argocd_token: SecretStr | None = Field(None, validation_alias=_env("ARGOCD_TOKEN"))
    argocd_timeout_seconds: float = Field(
        5.0, gt=0, le=60, validation_alias=_env("HERALD_ARGOCD_TIMEOUT_SECONDS")
    )
    prometheus_url: str | None = Field(None, validation_alias=_env("PROMETHEUS_URL"))
    pagerduty_routing_key: SecretStr | None = Field(
        None, validation_alias=_env("PAGERDUTY_ROUTING_KEY")
    )
    pagerduty_events_url: str = Field(
        DEFAULT_PAGERDUTY_EVENTS_URL, validation_alias=_env("PAGERDUTY_EVENTS_URL")
    )
    pagerduty_change_events: bool = Field(
        True, validation_alias=_env("HERALD_PAGERDUTY_CHANGE_EVENTS")
    )  # each deploy on the service's PagerDuty timeline (where a routing key is set)
    pagerduty_api_token: SecretStr | None = Field(
        None, validation_alias=_env("PAGERDUTY_API_TOKEN")
    )  # REST API key (read-only is enough): who is on call
    pagerduty_api_url: str = Field(
        DEFAULT_PAGERDUTY_API_URL, validation_alias=_env("PAGERDUTY_API_URL")
    )
    checkup_interval_seconds: float = Field(
        5.0, gt=0, le=300, validation_alias=_env("HERALD_CHECKUP_INTERVAL_SECONDS")
    )
    watch_tick_seconds: float = Field(
        1.0, gt=0, le=15, validation_alias=_env("HERALD_WATCH_TICK_SECONDS")
    )
    checkup_max_attempts: int = Field(
        3, ge=1, le=20, validation_alias=_env("HERALD_CHECKUP_MAX_ATTEMPTS")
    )  # a checkup whose judging keeps failing is reported UNKNOWN after this many attempts
    checkup_concurrency: int = Field(
        50, ge=1, le=500, validation_alias=_env("HERALD_CHECKUP_CONCURRENCY")
    )
    digest_channel: str | None = Field(None, validation_alias=_env("HERALD_DIGEST_CHANNEL"))
    digest_at: str = Field(
        "09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", validation_alias=_env("HERALD_DIGEST_AT")
    )
    weekly_report_at: str | None = Field(
        "mon 09:00",
        pattern=r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d$",
        validation_alias=_env("HERALD_WEEKLY_REPORT_AT"),
    )
    log_level: str = Field("INFO", validation_alias=_env("HERALD_LOG_LEVEL"))
    workers: int = Field(
        0, ge=0, le=16, validation_alias=_env("HERALD_WORKERS")
    )  # 0: one process does everything; N: the server only records and acks, N workers act
    resume_grace_seconds: float = Field(
        30.0, gt=0, le=600, validation_alias=_env("HERALD_RESUME_GRACE_SECONDS")
    )  # a command unfinished this long after its ack belongs to a process that died
    retro_after_seconds: float = Field(
        86400.0, ge=60, le=30 * 86400, validation_alias=_env("HERALD_RETRO_AFTER_SECONDS")
    )  # a failed release's retro reminder, this long after it recovered
    delivery_poll_seconds: float = Field(
        1.0, gt=0, validation_alias=_env("HERALD_DELIVERY_POLL_SECONDS")
    )
    delivery_give_up_seconds: float = Field(
        600.0, gt=0, le=86400, validation_alias=_env("HERALD_DELIVERY_GIVE_UP_SECONDS")
    )  # a message failing (5xx, timeouts; not 429s) this long is a dead letter
    slack_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias=_env("HERALD_SLACK_TIMEOUT_SECONDS")
    )
    # retention (bot/store/retention.py): days an inbox key / a delivered outbox row is kept
    # after it was last received / created; 0 keeps every row
    retention_inbox_days: float = Field(
        14.0, ge=0, validation_alias=_env("HERALD_RETENTION_INBOX_DAYS")
    )
    retention_outbox_days: float = Field(
        30.0, ge=0, validation_alias=_env("HERALD_RETENTION_OUTBOX_DAYS")
    )
    retention_batch: int = Field(
        1000, ge=1, le=10000, validation_alias=_env("HERALD_RETENTION_BATCH")
    )

    @field_validator("retention_inbox_days")
    @classmethod
    def _within_dedupe_horizon(cls, days: float) -> float:
        from bot.store.inbox import DEDUPE_HORIZON

        horizon = DEDUPE_HORIZON.total_seconds() / 86400
        if 0 < days < horizon:
            raise ValueError(
                f"HERALD_RETENTION_INBOX_DAYS={days:g} is shorter than the inbox's dedupe "
                f"horizon ({horizon:g} days): a redelivered webhook would be acted on twice; "
                f"use {horizon:g} or more, or 0 to keep every inbox row"
            )
        return days

    @field_validator("retention_outbox_days")
    @classmethod
    def _at_least_a_day(cls, days: float) -> float:
        if 0 < days < 1:
            raise ValueError(
                f"HERALD_RETENTION_OUTBOX_DAYS={days:g} is under a day: keep delivered outbox "
                "rows at least 1 day (0 keeps every row)"
            )
        return days

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def slack_base_url(self) -> str:
        """slack_sdk joins method names onto the base URL, so it must end with a slash."""
        url = self.slack_api_url
        return url if url.endswith("/") else url + "/"
