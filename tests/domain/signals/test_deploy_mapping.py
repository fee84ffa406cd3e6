"""The pure parts of webhook mapping: deploy signal plans, image tags, alert scope and notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Release
from bot.domain.signals.alerts import (
    Alert,
    AlertScope,
    AlertStatus,
    decide,
    in_window,
    note_text,
    scope_of,
)
from bot.domain.signals.mapping import (
    DeploySignal,
    Source,
    Steps,
    derived_release_id,
    plan_steps,
    symptom_of,
    version_from_images,
)
from bot.examples import example_manifest
from bot.slack.mrkdwn import render

E = EventType
T0 = datetime(2025, 10, 2, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "target", "steps"),
    [
        (None, E.DEPLOYED, Steps((E.STARTED, E.DEPLOYED))),
        (E.PLANNED, E.ROLLED_BACK, Steps((E.STARTED, E.FAILED, E.ROLLED_BACK))),
        (E.STARTED, E.STARTED, Steps()),
        (E.DEPLOYED, E.STARTED, Steps()),
        (E.DEPLOYED, E.DEPLOYED, Steps()),
        (E.DEPLOYED, E.ROLLED_BACK, Steps((E.FAILED, E.ROLLED_BACK))),
        (E.FAILED, E.DEPLOYED, Steps((E.RECOVERED,))),
        (E.FAILED, E.FAILED, Steps(note=True)),
        (E.ROLLED_BACK, E.ROLLED_BACK, Steps()),
        (E.RECOVERED, E.DEPLOYED, Steps()),
        (E.RECOVERED, E.FAILED, Steps(note=True)),
    ],
)
def test_plan_steps(state: EventType | None, target: EventType, steps: Steps) -> None:
    assert plan_steps(state, target) == steps


def test_every_planned_path_is_legal() -> None:
    from bot.domain.release.lifecycle import is_legal

    for state in (None, *EventType):
        for target in (E.STARTED, E.DEPLOYED, E.FAILED, E.ROLLED_BACK):
            current = state or E.PLANNED
            for step in plan_steps(state, target).events:
                assert is_legal(current, step), (state, target, step)
                current = step


@pytest.mark.parametrize(
    ("images", "version"),
    [
        (("nginx:1.25", "ghcr.io/acme/webapp:1.42.0"), "1.42.0"),
        (("registry:5000/acme/webapp:v2@sha256:abc",), "v2"),
        (("registry:5000/acme/webapp",), None),
        (("nginx:1.25",), "1.25"),
        ((), None),
    ],
)
def test_version_from_images(images: tuple[str, ...], version: str | None) -> None:
    assert version_from_images(images, "webapp") == version


def test_derived_id_and_symptoms() -> None:
    signal = DeploySignal(
        Source.ARGOCD,
        "on-sync-failed",
        "webapp/prod",
        revision="ABCDEF1234",
        operation_message="boom",
    )
    assert derived_release_id(signal) == "argo-webapp-prod-abcdef1"
    assert symptom_of(signal) == "Argo CD sync failed: boom"
    helm = DeploySignal(Source.ARGOCD, "on-deployed", "webapp", revision="1.2.3")
    assert derived_release_id(helm) is None
    assert signal.inbox_key() == "argocd:/webapp/prod:ABCDEF1234:on-sync-failed"


def _alert(status: AlertStatus = AlertStatus.FIRING, **labels: str) -> Alert:
    return Alert(
        group_key="{}:{}",
        status=status,
        fingerprint="f1",
        labels={"alertname": "HighErrorRate", **labels},
        annotations={"summary": "<!here> & <@U1>", "description": "line\nbreak"},
        starts_at=T0 + timedelta(minutes=30),
        ends_at=T0 + timedelta(minutes=45),
        generator_url="http://prom/graph?a=1|<x>",
    )


def test_scope_of() -> None:
    assert scope_of(_alert(scope="release", release_id="r1")) == AlertScope(release_id="r1")
    assert scope_of(_alert(scope="release", service="a", env="b")) == AlertScope(
        service="a", env="b"
    )
    assert scope_of(_alert(service="a")) == AlertScope(service="a", windowed=True)
    assert scope_of(_alert(scope="release")) is None
    assert scope_of(_alert()) is None


def test_window_runs_from_start_to_two_hours_after_deploy() -> None:
    release = Release(
        manifest=Manifest.model_validate(example_manifest()),
        digest="d",
        received_at=T0,
        state=E.DEPLOYED,
        times={E.STARTED: T0, E.DEPLOYED: T0 + timedelta(minutes=10)},
    )
    assert in_window(release, T0 + timedelta(minutes=5))
    assert in_window(release, T0 + timedelta(hours=2, minutes=10))
    assert not in_window(release, T0 + timedelta(hours=2, minutes=11))
    assert not in_window(release, T0 - timedelta(minutes=2))


def test_notes_escape_everything_and_decide_paging() -> None:
    firing = render(note_text(_alert(severity="<!channel>")))
    assert "<!" not in firing and "<@" not in firing
    assert "severity: &lt;!channel&gt;" in firing
    assert "> &lt;!here&gt; &amp; &lt;@U1&gt;" in firing
    assert "> line break" in firing
    assert "- Source: http://prom/graph?a=1|&lt;x&gt;" in firing  # unsafe URL: not a link
    resolved = render(note_text(_alert(AlertStatus.RESOLVED)))
    assert resolved.endswith("fired 2025-10-02 20:30 UTC → resolved 2025-10-02 20:45 UTC (15m)")
    assert decide(_alert(severity="page"), "r1").should_page
    assert not decide(_alert(severity="warning"), "r1").should_page
    assert not decide(_alert(AlertStatus.RESOLVED, severity="critical"), "r1").should_page
