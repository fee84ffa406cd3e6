"""The PrometheusRule that alerts on Herald itself: valid for promtool, and its alerts fire
when a job stops completing or checkups go unjudged (`promtool test rules`)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.harness.fixtures import require_or_skip
from tests.harness.prometheus import find_prometheus, manifest_rule_groups

MONITORING = (
    Path(__file__).resolve().parents[1] / "manifests" / "herald" / "components" / "monitoring"
)
RULES = MONITORING / "prometheusrule.yaml"
ALERTS = {
    "HeraldOutboxOld",
    "HeraldDeadLetters",
    "HeraldCheckupsFailing",
    "HeraldJobMissedPeriod",
    "HeraldJobFailing",
    "HeraldNotReady",
    "HeraldNoWorkerUp",
    "HeraldWorkersRestarting",
}


def promtool() -> Path:
    found = find_prometheus()
    if found is None:
        require_or_skip("promtool not found")
    return found[1]


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(promtool()), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": manifest_rule_groups(RULES)}), encoding="utf-8")
    return path


def rule(alert: str) -> dict[str, Any]:
    (group,) = manifest_rule_groups(RULES)
    found: dict[str, Any] = next(r for r in group["rules"] if r.get("alert") == alert)
    return found


def firing(alert: str, *, summary: str, **labels: str) -> dict[str, Any]:
    """The one alert promtool should see: the rule's labels plus `labels`, and its
    annotations with `summary` as rendered."""
    annotations = {**rule(alert)["annotations"], "summary": summary}
    if "{{" in annotations["description"]:
        annotations["description"] = annotations["description"].replace(
            "{{ $labels.instance }}", labels.get("instance", "")
        )
    return {"exp_labels": {**rule(alert)["labels"], **labels}, "exp_annotations": annotations}


def test_herald_alerts_on_itself_and_never_back_to_herald() -> None:
    (group,) = manifest_rule_groups(RULES)
    assert {r["alert"] for r in group["rules"]} == ALERTS
    for alert in group["rules"]:
        assert "scope" not in alert["labels"] and "service" not in alert["labels"]
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]


def test_herald_rules_pass_promtool(tmp_path: Path) -> None:
    assert f"SUCCESS: {len(ALERTS)} rules found" in run(
        "check", "rules", rules_file(tmp_path), cwd=tmp_path
    )


def test_a_job_that_missed_two_periods_and_unjudged_checkups_fire(tmp_path: Path) -> None:
    rules_file(tmp_path)
    checkups = {"job_id": "herald-checkups", "instance": "herald-a"}
    digest = {"job_id": "herald-digest", "instance": "herald-a"}
    missed = firing(
        "HeraldJobMissedPeriod",
        summary="Herald job herald-checkups has not completed for 5m 0s",
        **checkups,
    )
    unjudged = firing(
        "HeraldCheckupsFailing",
        summary="Herald could not judge 1 checkup(s) in the last 30 minutes",
        kind="checkup",
    )
    assert passes_unit_test(
        tmp_path,
        series=[
            # the checkup tick (every 5 s) last completed at 0 and never since
            _series("herald_job_last_success_timestamp_seconds", checkups, "0x10"),
            _series("herald_job_period_seconds", checkups, "5x10"),
            # the daily digest is scheduled and waiting: no alert
            _series("herald_job_last_success_timestamp_seconds", digest, "0x10"),
            _series("herald_job_period_seconds", digest, "86400x10"),
            # one checkup finished unjudged at 3m; both replicas report it
            _series(
                "herald_checkups_failed_total",
                {"kind": "checkup", "instance": "herald-a"},
                "0 0 0 1 1 1",
            ),
            _series(
                "herald_checkups_failed_total",
                {"kind": "checkup", "instance": "herald-b"},
                "0 0 0 1 1 1",
            ),
        ],
        expect=[
            {
                "eval_time": "5m",
                "alertname": "HeraldJobMissedPeriod",
                "exp_alerts": [missed],
            },
            {
                "eval_time": "5m",
                "alertname": "HeraldCheckupsFailing",
                "exp_alerts": [unjudged],
            },
            {"eval_time": "2m", "alertname": "HeraldCheckupsFailing", "exp_alerts": []},
        ],
    )


def test_no_worker_up_for_two_minutes_and_workers_dying_again_and_again_fire(
    tmp_path: Path,
) -> None:
    rules_file(tmp_path)
    crashing = {"instance": "herald-a"}
    steady = {"instance": "herald-b"}
    assert passes_unit_test(
        tmp_path,
        series=[
            # herald-a: its worker dies at 2m and every replacement dies with it
            _series("herald_workers_up", crashing, "1 1 0 0 0 0 0 0"),
            _series("herald_worker_restarts_total", crashing, "0 0 1 2 3 4 5 6"),
            # herald-b: one worker killed at 3m and replaced within the minute
            _series("herald_workers_up", steady, "1 1 1 1 1 1 1 1"),
            _series("herald_worker_restarts_total", steady, "0 0 0 1 1 1 1 1"),
        ],
        expect=[
            {"eval_time": "3m", "alertname": "HeraldNoWorkerUp", "exp_alerts": []},
            {
                "eval_time": "5m",
                "alertname": "HeraldNoWorkerUp",
                "exp_alerts": [
                    firing(
                        "HeraldNoWorkerUp",
                        summary="Herald on herald-a has had no worker process for 2 minutes",
                        **crashing,
                    )
                ],
            },
            {
                "eval_time": "7m",
                "alertname": "HeraldWorkersRestarting",
                "exp_alerts": [
                    firing(
                        "HeraldWorkersRestarting",
                        summary="Herald's worker processes on herald-a exited 6 times "
                        "in 15 minutes",
                        **crashing,
                    )
                ],
            },
        ],
    )


def passes_unit_test(
    tmp_path: Path, *, series: list[dict[str, str]], expect: list[dict[str, Any]]
) -> bool:
    """promtool's rule unit test over `series` (one sample a minute): True when every
    expected alert (and every expected silence) holds."""
    unit = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": expect}],
    }
    (tmp_path / "unit.yaml").write_text(yaml.safe_dump(unit), encoding="utf-8")
    return "SUCCESS" in run("test", "rules", "unit.yaml", cwd=tmp_path)


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    matchers = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{matchers}}}", "values": values}
