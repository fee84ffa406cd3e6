"""The played job guesses nothing: an expression or a condition it was not told about stops
the test instead of turning into an empty string, as it would on GitHub."""

from __future__ import annotations

import pytest

from tests.github_actions.runner import CONDITIONS, Job, substitute

CONTEXTS = {"github": {"sha": "9f4c2b1"}, "steps": {"lead": {"outputs": {"seconds": "60"}}}}


def test_known_expressions_are_substituted() -> None:
    text = "commit ${{ github.sha }}, lead ${{steps.lead.outputs.seconds}} s"
    assert substitute(text, CONTEXTS) == "commit 9f4c2b1, lead 60 s"


@pytest.mark.parametrize(
    "text",
    [
        "${{ github.run_id }}",  # a value the table does not have
        "${{ steps.deploy.outputs.url }}",  # a step that wrote no such output
        "${{ github.sha && 'x' }}",  # an operator: not a plain lookup
        "${{ toJSON(github) }}",  # a function
    ],
)
def test_an_unknown_expression_fails_loudly(text: str) -> None:
    with pytest.raises(AssertionError):
        substitute(text, CONTEXTS)


def test_a_failure_step_runs_only_after_the_release_started() -> None:
    failure = CONDITIONS["failure() && steps.started.outcome == 'success'"]
    started = {"outcome": "success", "outputs": {}}
    assert failure(Job(failed=True, steps={"started": started}))
    assert not failure(Job(failed=False, steps={"started": started}))
    assert not failure(Job(failed=True, steps={"started": {"outcome": "failure", "outputs": {}}}))
