"""The real definition's control flow, on the local interpreter with scripted service results."""

from __future__ import annotations

from typing import Any

import pytest

from covid_pipeline.runner.asl import ExecutionFailed, StateMachine, TaskFailed
from covid_pipeline.runner.template import LocalTemplate
from tests.helpers import ROOT


class Scripted:
    """Invoker that answers each function/job/topic from a script and records every call."""

    def __init__(self, polls_until_done: int = 1, fail: dict[str, TaskFailed] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.polls_until_done = polls_until_done
        self.fail = fail or {}

    def __call__(self, resource: str, params: dict[str, Any], context: Any) -> Any:
        target = params.get("FunctionName") or params.get("JobName") or params.get("TopicArn")
        step = str(target).rsplit("-", 1)[-1].removesuffix("Function")
        payload = params.get("Payload", {})
        self.calls.append((step, params))
        if step in self.fail:
            raise self.fail.pop(step)
        if step == "Setup":
            return {
                "Payload": {
                    "run_id": payload["run_id"],
                    "started_at": payload["started_at"],
                    "manifest_uri": "s3://l/work/m.jsonl",
                    "staged_uri": "s3://l/staged/r/",
                    "curated_uri": "s3://l/curated/r/",
                    "quarantine_uri": "s3://l/quarantine/",
                    "objects": 1,
                    "refused": [],
                }
            }
        if step == "Crawl":
            polls = payload.get("polls", 0) + (1 if payload["action"] == "poll" else 0)
            return {
                "Payload": {
                    "polls": polls,
                    "done": payload["action"] == "poll" and polls >= self.polls_until_done,
                    "state": "READY",
                }
            }
        if step == "Stage":
            return {
                "Payload": {
                    "tables": 1,
                    "rows": {"jhu_daily": 3},
                    "refused_objects": 0,
                    "refusals": [],
                    "unmapped_columns": {},
                }
            }
        if step == "clean":
            return {"Id": "jr_1", "JobRunState": "SUCCEEDED", "ExecutionTime": 5}
        if step == "Load":
            return {"Payload": {"rows_total": {"fact_cases_daily": 3}, "rejected": {}}}
        return {"MessageId": "m-1"}  # SNS


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return LocalTemplate(ROOT / "template.yaml").state_machine()[1]


def run(definition: dict[str, Any], invoker: Scripted) -> tuple[Any, list[float], StateMachine]:
    sleeps: list[float] = []
    machine = StateMachine(definition, invoker=invoker, wait_scale=1.0, sleep=sleeps.append)
    return machine.execute({"source_uri": "file:///x/"}, execution_name="run-1"), sleeps, machine


def test_happy_path_runs_every_step_in_order(definition: dict[str, Any]) -> None:
    invoker = Scripted()
    output, sleeps, _ = run(definition, invoker)
    assert [c[0] for c in invoker.calls] == ["Setup", "Crawl", "Crawl", "Stage", "clean", "Load", "AlertTopic"]
    assert sleeps == [20]
    assert output["load"]["result"]["rows_total"] == {"fact_cases_daily": 3}
    clean_args = invoker.calls[4][1]["Arguments"]
    assert clean_args["--run_id"] == "run-1"
    assert clean_args["--staged_uri"] == "s3://l/staged/r/"
    assert "succeeded" in invoker.calls[-1][1]["Message"]


def test_crawler_polling_loop_waits_until_done(definition: dict[str, Any]) -> None:
    invoker = Scripted(polls_until_done=4)
    _, sleeps, _ = run(definition, invoker)
    assert [c[0] for c in invoker.calls].count("Crawl") == 1 + 4
    assert sleeps == [20, 20, 20, 20]


def test_crawler_polling_has_a_deadline(definition: dict[str, Any]) -> None:
    invoker = Scripted(polls_until_done=10_000)
    with pytest.raises(ExecutionFailed) as failed:
        run(definition, invoker)
    assert failed.value.error == "CrawlTimedOut"
    assert [c[0] for c in invoker.calls].count("Crawl") == 1 + 90
    assert "failed" in invoker.calls[-1][1]["Message"]


def test_busy_crawler_is_retried_with_backoff(definition: dict[str, Any]) -> None:
    invoker = Scripted(fail={"Crawl": TaskFailed("CrawlerBusy", '{"errorMessage": "already running"}')})
    _, sleeps, _ = run(definition, invoker)
    assert sleeps[0] == 30  # the CrawlerBusy retrier's first interval, then the crawl wait
    assert [c[0] for c in invoker.calls][:3] == ["Setup", "Crawl", "Crawl"]


@pytest.mark.parametrize("step", ["Setup", "Stage", "clean", "Load"])
def test_a_failing_step_is_caught_alerted_and_fails_the_execution(definition: dict[str, Any], step: str) -> None:
    invoker = Scripted(fail={step: TaskFailed("EngineError", '{"errorMessage": "boom in ' + step + '"}')})
    with pytest.raises(ExecutionFailed) as failed:
        run(definition, invoker)
    assert failed.value.error == "EngineError"
    assert "boom in " + step in failed.value.cause
    alert = invoker.calls[-1]
    assert alert[0] == "AlertTopic"
    assert "FAILED" in alert[1]["Subject"]
    assert "boom in " + step in alert[1]["Message"]
    # Nothing ran after the failing step but the alert.
    assert [c[0] for c in invoker.calls][-2] == step


class AlertsFail(Scripted):
    """Every SNS publish fails, e.g. the topic's KMS key denies the state machine's role."""

    def __call__(self, resource: str, params: dict[str, Any], context: Any) -> Any:
        if "TopicArn" in params:
            self.calls.append(("AlertTopic", params))
            raise TaskFailed("SNS.KmsAccessDeniedException", '{"errorMessage": "kms:GenerateDataKey denied"}')
        return super().__call__(resource, params, context)


def test_a_failed_success_alert_does_not_fail_a_finished_load(definition: dict[str, Any]) -> None:
    invoker = AlertsFail()
    output, _, _ = run(definition, invoker)  # no ExecutionFailed: the load committed
    assert output["load"]["result"]["rows_total"] == {"fact_cases_daily": 3}
    assert output["alert_error"]["Error"] == "SNS.KmsAccessDeniedException"
    assert [c[0] for c in invoker.calls].count("AlertTopic") == 1 + 3  # the publish and its retries


def test_a_failed_failure_alert_keeps_the_steps_own_error(definition: dict[str, Any]) -> None:
    invoker = AlertsFail(fail={"Load": TaskFailed("EngineError", '{"errorMessage": "COPY failed"}')})
    with pytest.raises(ExecutionFailed) as failed:
        run(definition, invoker)
    assert failed.value.error == "EngineError"  # not the alert's KMS error
    assert "COPY failed" in failed.value.cause
