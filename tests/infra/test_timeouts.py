"""Deadlines leave room to stop and report: checked on template.yaml and the state machine definition.

A statement's deadline (QUERY_TIMEOUT_SECONDS) + the settle phase after stopping it + the margin for
reporting must fit in the function's Timeout, and the function's Timeout must be below its task's
TimeoutSeconds. Otherwise Lambda kills the function before it cancels the statement (which may then
commit), or Step Functions declares the task timed out while the function is still loading.
"""

from __future__ import annotations

from typing import Any

import pytest

from covid_pipeline.adapters.aws.polling import REPORT_MARGIN_SECONDS, SETTLE_SECONDS
from covid_pipeline.runner.template import LocalTemplate
from covid_pipeline.settings import Settings
from tests.helpers import ROOT

# The functions that run Athena queries or Redshift statements (and so poll with a deadline).
QUERYING = ("SetupFunction", "StageFunction", "LoadFunction")


@pytest.fixture(scope="module")
def template() -> LocalTemplate:
    return LocalTemplate(ROOT / "template.yaml")


def _lambda_tasks(definition: dict[str, Any], template: LocalTemplate) -> list[tuple[str, str, int]]:
    """(state, function logical id, task TimeoutSeconds) for each Lambda task of the definition."""
    by_arn = {spec.arn: lid for lid, spec in template.functions().items()}
    return [
        (name, by_arn[state["Parameters"]["FunctionName"]], int(state["TimeoutSeconds"]))
        for name, state in definition["States"].items()
        if state["Type"] == "Task" and state["Resource"].endswith(":lambda:invoke")
    ]


@pytest.mark.parametrize("function", QUERYING)
def test_a_statement_deadline_leaves_room_to_stop_and_report(template: LocalTemplate, function: str) -> None:
    spec = template.functions()[function]
    query_timeout = float(spec.environment["QUERY_TIMEOUT_SECONDS"])
    needed = query_timeout + SETTLE_SECONDS + REPORT_MARGIN_SECONDS
    assert needed <= spec.timeout_s, (
        f"{function}: deadline {query_timeout:g} s + settle {SETTLE_SECONDS:g} s + report {REPORT_MARGIN_SECONDS:g} s"
        f" = {needed:g} s > its Timeout {spec.timeout_s} s"
    )


def test_the_settings_read_the_templates_deadline(template: LocalTemplate) -> None:
    env = template.functions()["LoadFunction"].environment
    settings = Settings.model_validate({**env, "RAW_BUCKET": "r", "LAKE_BUCKET": "l"})
    assert settings.query_timeout_s == float(env["QUERY_TIMEOUT_SECONDS"])


def test_every_lambda_task_outlasts_its_function(template: LocalTemplate) -> None:
    _, definition = template.state_machine()
    tasks = _lambda_tasks(definition, template)
    assert {fn for _, fn, _ in tasks} >= set(QUERYING)
    functions = template.functions()
    for state, function, task_timeout in tasks:
        assert functions[function].timeout_s < task_timeout, (
            f"{state}: task TimeoutSeconds {task_timeout} <= {function} Timeout {functions[function].timeout_s}:"
            " Step Functions would report a timeout while the function may still commit"
        )
