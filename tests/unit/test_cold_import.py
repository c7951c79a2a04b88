"""A handler module's cold import loads only what the handler needs before its first event.

Each ``functions/<step>/app.py`` is imported in a fresh interpreter, as Lambda's INIT does, with the
layer on the path and PIPELINE_ENV=aws: the X-Ray SDK and the AWS SDK's client stack (boto3,
``botocore.*``) must not be in ``sys.modules`` afterwards unless tracing is on. The bare ``botocore``
package is allowed: Powertools imports it (``botocore/__init__`` only) to register its user-agent hook.
matplotlib (the report's, not in the layer) must never be there.
Checked on ``sys.modules``, never on timings: ``make bench`` prints those.

With tracing on (in Lambda, POWERTOOLS_TRACE_DISABLED unset), the handler must still be traced: its
``## lambda_handler`` subsegment reaches the X-Ray daemon address.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared" / "python"
STEPS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))

# Variables that decide whether (and where) Powertools traces: the parent's (a developer's shell, CI)
# never leak in.
TRACING_ENV = ("LAMBDA_TASK_ROOT", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE", "POWERTOOLS_TRACE_DISABLED")
TRACING_PREFIXES = ("AWS_XRAY_", "_X_AMZN_")

PROBE = """
import json, sys
sys.path[:0] = [{fn!r}, {layer!r}]
import app
import covid_pipeline
assert covid_pipeline.__file__.startswith({layer!r}), covid_pipeline.__file__
assert callable(app.lambda_handler)
heavy = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("boto3", "aws_xray_sdk", "matplotlib") or m.startswith("botocore.")
)
print(json.dumps(heavy))
"""

INVOKE = """
import sys
sys.path[:0] = [{fn!r}, {layer!r}]
import app


class Context:
    function_name = "f"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-2:123456789012:function:f"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self):
        return 60_000


try:
    app.lambda_handler({{"not": "an input"}}, Context())
except Exception as exc:
    print(type(exc).__name__)
"""


def child_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONPATH" and k not in TRACING_ENV and not k.startswith(TRACING_PREFIXES)
    }
    return env | {"PIPELINE_ENV": "aws", "AWS_DEFAULT_REGION": "us-east-2"} | extra


def run(code: str, env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(
    "tracing_off",
    [{}, {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}],
    ids=["outside-lambda", "lambda-trace-disabled"],
)
def test_handler_import_loads_no_aws_sdk_client_nor_xray(
    step: str, tracing_off: dict[str, str], tmp_path: Path
) -> None:
    code = PROBE.format(fn=str(ROOT / "functions" / step), layer=str(LAYER))
    assert json.loads(run(code, child_env(**tracing_off), tmp_path)) == []


def test_every_function_is_covered() -> None:
    assert {"setup", "crawl", "stage", "load"} <= set(STEPS)


def test_handler_is_traced_in_lambda_when_tracing_is_on(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(10)
        env = child_env(
            LAMBDA_TASK_ROOT="/var/task",
            AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{daemon.getsockname()[1]}",
            _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        code = INVOKE.format(fn=str(ROOT / "functions" / "setup"), layer=str(LAYER))
        # The failed invocation's EMF record (SetupFailed, StepDuration), then the exception's name.
        *emf, error = run(code, env, tmp_path).strip().splitlines()
        assert error == "ValidationError"
        assert [json.loads(line)["SetupFailed"] for line in emf] == [[1.0]]
        documents = []
        while not any(d.get("name") == "## lambda_handler" for d in documents):
            packet, _ = daemon.recvfrom(65536)
            # Each UDP packet: a JSON header line, then one (sub)segment document.
            documents.append(json.loads(packet.decode().split("\n", 1)[1]))
    subsegment = next(d for d in documents if d.get("name") == "## lambda_handler")
    assert subsegment["annotations"] == {"ColdStart": True, "Service": "covid-pipeline"}
    assert subsegment["fault"] is True


def test_metrics_namespace_and_service_come_from_the_function_environment() -> None:
    """template.yaml's POWERTOOLS_METRICS_NAMESPACE / POWERTOOLS_SERVICE_NAME are what the records carry (a
    namespace passed in code would override them, leaving the template's setting dead)."""
    code = "from covid_pipeline.observability import metrics, logger; print(metrics.namespace, logger.service)"
    env = {**os.environ, "POWERTOOLS_METRICS_NAMESPACE": "Elsewhere", "POWERTOOLS_SERVICE_NAME": "svc-x"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["Elsewhere", "svc-x"]
