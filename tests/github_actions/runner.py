"""A GitHub Actions job played the way the runner plays it, as far as shell steps go: the
workflow's steps in order, `if:` conditions, `${{ ... }}` expressions, Herald's composite
action expanded into its own steps, `$GITHUB_OUTPUT` and `$GITHUB_PATH` between steps, each
`run:` under `bash --noprofile --norc -eo pipefail` (the runner's `shell: bash`).

Everything the real runner would know and this test cannot is explicit: the `github`, `vars`
and `secrets` values (`Context`), the `uses:` steps that are not run (`SKIPPED_ACTIONS`), the
`if:` conditions understood (`CONDITIONS`) and the action's steps replaced (`replaced`). An
expression or a condition outside them fails the test instead of being guessed."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
ACTION = REPOSITORY / ".github/actions/herald"
WORKFLOW = REPOSITORY / "docs/examples/github-actions/release.yml"
HERALD_ACTION = re.compile(r"^(\./|[\w.-]+/herald/)\.github/actions/herald(@[\w.-]+)?$")
SKIPPED_ACTIONS = {"actions/checkout@v4": "the job's directory is already the checkout"}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
NAME = re.compile(r"^[A-Za-z_][\w-]*(\.[\w-]+)+$")


@dataclass
class Job:
    """What the steps have done so far: outcomes, outputs, PATH additions and each log."""

    failed: bool = False
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → outcome, outputs
    path: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def outcome(self, step: str) -> str:
        return str(self.steps[step]["outcome"])

    def log(self) -> str:
        return "\n".join(self.logs)


CONDITIONS: dict[str, Callable[[Job], bool]] = {
    "success()": lambda job: not job.failed,
    "failure() && steps.started.outcome == 'success'": lambda job: (
        job.failed and job.outcome("started") == "success"
    ),
}


@dataclass
class Context:
    """The runner's side of the job: the values of `github.*`, `vars.*` and `secrets.*`, the
    environment every step gets (`GITHUB_SHA`, ...), and the directory it runs in."""

    workdir: Path
    github: dict[str, str]
    vars: dict[str, str]
    secrets: dict[str, str]
    base_env: dict[str, str]
    replaced: dict[str, str]  # an action step's id → the script run instead of its own


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


def substitute(text: str, contexts: Mapping[str, Any]) -> str:
    """Every `${{ name.path }}` in `text` replaced by its value; anything else fails loudly."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        assert NAME.match(expression), f"expression not understood here: {expression!r}"
        found: Any = contexts
        for part in expression.split("."):
            assert isinstance(found, Mapping) and part in found, f"unknown: {expression!r}"
            found = found[part]
        return str(found)

    return EXPRESSION.sub(value, text)


async def run_job(context: Context, *, workflow: Path = WORKFLOW, job_name: str = "release") -> Job:
    """The workflow's job, step by step, as far as a failure and the `if:`s let it go."""
    spec = load(workflow)["jobs"][job_name]
    base = {"github": context.github, "vars": context.vars, "secrets": context.secrets}
    env = {name: substitute(str(v), base) for name, v in spec.get("env", {}).items()}
    job = Job()
    for number, step in enumerate(spec["steps"]):
        step_id = step.get("id", f"step{number}")
        condition = step.get("if", "success()")
        assert condition in CONDITIONS, f"condition not understood here: {condition!r}"
        if not CONDITIONS[condition](job):
            job.steps[step_id] = {"outcome": "skipped", "outputs": {}}
            continue
        contexts = {**base, "env": env, "steps": job.steps}
        if "uses" in step:
            code, outputs = await _use(context, job, step, contexts=contexts, env=env)
        else:
            script = substitute(step["run"], contexts)
            step_env = {k: substitute(str(v), contexts) for k, v in step.get("env", {}).items()}
            code, outputs = await _shell(context, job, script, env={**env, **step_env})
        job.steps[step_id] = {"outcome": "success" if code == 0 else "failure", "outputs": outputs}
        job.failed = job.failed or code != 0
    return job


async def _use(
    context: Context,
    job: Job,
    step: Mapping[str, Any],
    *,
    contexts: Mapping[str, Any],
    env: Mapping[str, str],
) -> tuple[int, dict[str, str]]:
    uses = step["uses"]
    if uses in SKIPPED_ACTIONS:
        return 0, {}
    assert HERALD_ACTION.match(uses), f"action not known here: {uses!r}"
    given = {name: substitute(str(v), contexts) for name, v in step.get("with", {}).items()}
    return await run_action(context, job, given, env=env)


async def run_action(
    context: Context, job: Job, given: Mapping[str, str], *, env: Mapping[str, str]
) -> tuple[int, dict[str, str]]:
    """Herald's composite action with the inputs `given`: its exit code and its outputs."""
    spec = load(ACTION / "action.yml")
    declared = spec["inputs"]
    assert set(given) <= set(declared), f"inputs the action has not: {set(given) - set(declared)}"
    missing = [n for n, i in declared.items() if i.get("required") and n not in given]
    assert not missing, f"required inputs left out: {missing}"
    inputs = {name: given.get(name, str(i.get("default", ""))) for name, i in declared.items()}
    steps: dict[str, dict[str, Any]] = {}
    for step in spec["runs"]["steps"]:
        assert "uses" not in step and step.get("shell") == "bash", step
        contexts = {"inputs": inputs, "github": context.github, "steps": steps}
        script = context.replaced.get(step["id"]) or substitute(step["run"], contexts)
        step_env = {k: substitute(str(v), contexts) for k, v in step.get("env", {}).items()}
        step_env["GITHUB_ACTION_PATH"] = str(ACTION)
        code, outputs = await _shell(context, job, script, env={**env, **step_env})
        steps[step["id"]] = {"outcome": "success" if code == 0 else "failure", "outputs": outputs}
        if code != 0:
            return code, {}
    results = {"steps": steps}
    return 0, {n: substitute(o["value"], results) for n, o in spec.get("outputs", {}).items()}


async def _shell(
    context: Context, job: Job, script: str, *, env: Mapping[str, str]
) -> tuple[int, dict[str, str]]:
    """One `run:`: its exit code and what it wrote to `$GITHUB_OUTPUT`."""
    scratch = context.workdir.parent / "runner"
    scratch.mkdir(exist_ok=True)
    number = len(job.logs)
    files = {k: scratch / f"{k.lower()}-{number}" for k in ("GITHUB_OUTPUT", "GITHUB_PATH")}
    for file in files.values():
        file.write_text("")
    (scratch / f"step-{number}.sh").write_text(script)
    path = os.pathsep.join([*reversed(job.path), context.base_env["PATH"]])  # newest first
    runner_files = {name: str(file) for name, file in files.items()}
    process = await asyncio.create_subprocess_exec(
        *("bash", "--noprofile", "--norc", "-eo", "pipefail", str(scratch / f"step-{number}.sh")),
        cwd=context.workdir,
        env={**context.base_env, **env, **runner_files, "PATH": path},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    job.logs.append(f"$ {script.splitlines()[0] if script else ''}\n{out.decode()}")
    job.path.extend(line for line in files["GITHUB_PATH"].read_text().splitlines() if line)
    outputs = dict(
        line.split("=", 1) for line in files["GITHUB_OUTPUT"].read_text().splitlines() if line
    )
    assert process.returncode is not None
    return process.returncode, outputs
