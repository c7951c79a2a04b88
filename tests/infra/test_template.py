"""template.yaml and the state machine definition: valid, and wired to each other."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from covid_pipeline.runner.template import LocalTemplate, TemplateError
from tests.helpers import ROOT, load_handler

TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachine" / "pipeline.asl.json"


def test_cfn_lint_passes() -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert cfn_lint, "cfn-lint is a dev dependency"
    proc = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_substitution_in_the_definition_is_provided_and_used() -> None:
    template = LocalTemplate(TEMPLATE)
    used = set(re.findall(r"\$\{(\w+)\}", ASL.read_text()))
    machine = template.resources["PipelineStateMachine"]["Properties"]
    provided = set(machine["DefinitionSubstitutions"])
    assert used == provided
    _, definition = template.state_machine()
    assert "${" not in json.dumps(definition)


def test_missing_substitution_fails_loudly(tmp_path: Path) -> None:
    text = TEMPLATE.read_text().replace("        AlertTopicArn: !Ref AlertTopic\n", "")
    (tmp_path / "template.yaml").write_text(text)
    (tmp_path / "statemachine").mkdir()
    shutil.copy(ASL, tmp_path / "statemachine" / ASL.name)
    with pytest.raises(TemplateError, match="AlertTopicArn"):
        LocalTemplate(tmp_path / "template.yaml").state_machine()


def _task_states(states: dict) -> list[dict]:
    found = []
    for state in states.values():
        if state["Type"] == "Task":
            found.append(state)
        for branch in state.get("Branches", []):
            found += _task_states(branch["States"])
    return found


def test_every_task_targets_a_function_or_job_of_the_template() -> None:
    template = LocalTemplate(TEMPLATE)
    _, definition = template.state_machine()
    arns = {spec.arn for spec in template.functions().values()}
    jobs = template.glue_jobs()
    resources = set()
    for task in _task_states(definition["States"]):
        resources.add(task["Resource"])
        params = task["Parameters"]
        if task["Resource"].endswith(":lambda:invoke"):
            assert params["FunctionName"] in arns
        elif task["Resource"].endswith(":glue:startJobRun.sync"):
            assert params["JobName"] in jobs
            assert jobs[params["JobName"]].script.is_file()
    assert resources == {
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::glue:startJobRun.sync",
        "arn:aws:states:::sns:publish",
    }


def test_every_task_has_a_catch_to_the_failure_alert() -> None:
    definition = json.loads(ASL.read_text())
    for name, state in definition["States"].items():
        if state["Type"] == "Task" and not name.startswith("Notify"):
            assert [c["Next"] for c in state["Catch"]] == ["NotifyFailure"], name


@pytest.mark.parametrize("step", ["setup", "crawl", "stage", "load"])
def test_each_function_has_its_handler(step: str) -> None:
    template = LocalTemplate(TEMPLATE)
    spec = template.functions()[f"{step.capitalize()}Function"]
    assert spec.code_dir == ROOT / "functions" / step
    assert spec.handler == "app.lambda_handler"
    assert callable(load_handler(step).lambda_handler)


def test_conditions_and_if_resolve_like_cloudformation(tmp_path: Path) -> None:
    template = LocalTemplate(TEMPLATE)
    assert template.condition("CreateRedshift") is True
    assert template.condition("HasAlertEmail") is False
    env = template.functions()["LoadFunction"].environment
    assert env["REDSHIFT_WORKGROUP"] == "covid-pipeline-local"
    template.parameters["ExistingRedshiftWorkgroup"] = "shared-wg"
    assert template.functions()["LoadFunction"].environment["REDSHIFT_WORKGROUP"] == "shared-wg"


def test_no_wildcard_action_on_wildcard_resource_in_function_and_machine_policies() -> None:
    template = LocalTemplate(TEMPLATE)
    for lid, resource in template.resources.items():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            statements = policy.get("Statement", []) if isinstance(policy, dict) else []
            statements += policy.get("PolicyDocument", {}).get("Statement", []) if isinstance(policy, dict) else []
            for st in statements:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                if st.get("Resource") == "*":
                    assert not any(a.endswith("*") for a in actions), (lid, actions)
