"""A notice may name a message the release owns (its key) and later replace its content."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Audience, Notice, NoticeKind, Release
from bot.domain.text import text
from bot.examples import example_manifest

RELEASE = Release(
    manifest=Manifest.model_validate(example_manifest()),
    digest="d",
    received_at=datetime(2025, 10, 2, 20, 15, tzinfo=UTC),
)


def watch(*, key: str | None = "watch", replaces: bool = False, **extra: bool) -> Notice:
    return Notice(
        NoticeKind.NOTE,
        Audience.FEED_THREAD,
        RELEASE,
        None,
        text=text("watch: 1m green"),
        key=key,
        replaces=replaces,
        **extra,
    )


def test_existing_notices_have_no_key_and_replace_nothing() -> None:
    notice = Notice.note(RELEASE, text("hello"))
    assert (notice.key, notice.replaces) == (None, False)


def test_a_keyed_notice_and_its_replacement() -> None:
    assert watch().key == "watch"
    assert watch(key="recovery_watch", replaces=True).replaces


def test_replacing_needs_the_key_of_the_message() -> None:
    with pytest.raises(ValueError, match="needs the key"):
        watch(key=None, replaces=True)


def test_without_a_key_only_a_threads_root_is_replaced() -> None:
    """The incident message at the top of the ops thread is edited in place."""
    root = Notice(NoticeKind.INCIDENT, Audience.OPS, RELEASE, None, replaces=True)
    assert (root.key, root.replaces) == (None, True)


@pytest.mark.parametrize("key", ["", "Watch", "1watch", "watch-2", "watch me", "w" * 33])
def test_a_key_is_a_short_slug(key: str) -> None:
    with pytest.raises(ValueError, match="slug of at most 32"):
        watch(key=key)


def test_a_key_of_32_characters_fits_the_column() -> None:
    assert watch(key="w" * 32).key == "w" * 32


@pytest.mark.parametrize(
    "key", ["feed_root", "ops_root", "feed_event", "feed_thread_note", "ops_x", "page_trigger"]
)
def test_a_key_cannot_take_a_role_herald_names_itself(key: str) -> None:
    with pytest.raises(ValueError, match="collides"):
        watch(key=key)


def test_a_keyed_message_does_not_open_the_release_thread() -> None:
    with pytest.raises(ValueError, match="cannot open"):
        watch(opens_thread=True)
