"""The template passes SAM's validation, cfn-lint's serverless rules, builds without Docker, and passes checkov.

Everything `make validate` checks, so `make test` (which creates .venv-tools through `make tools`) needs no
separate `make validate`. Nothing calls AWS: fake credentials and a region only satisfy client set-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.run import build_step, local_target

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".venv-tools" / "bin" / "sam"
# cfn-lint-serverless lives beside SAM's own cfn-lint (requirements-tools.txt), not in the project's venv.
SAM_CFN_LINT = ROOT / ".venv-tools" / "sam" / "bin" / "cfn-lint"
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
FUNCTIONS = ("SetupFunction", "CrawlFunction", "StageFunction", "LoadFunction")

pytestmark = pytest.mark.skipif(
    not (SAM.exists() and CHECKOV.exists()),
    reason=".venv-tools/bin/{sam,checkov} missing: run `make tools` (make test creates them)",
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_PROFILE"}
    env.update(
        AWS_DEFAULT_REGION="us-east-2",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_EC2_METADATA_DISABLED="true",
        SAM_CLI_TELEMETRY="0",
    )
    return env


def _run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600, check=False
    )


def test_sam_validate_lint() -> None:
    result = _run(SAM, "validate", "--lint", "--template-file", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_cfn_lint_serverless_rules() -> None:
    # The project's cfn-lint (tests/infra/test_template.py) has no serverless rules: these are cfn-lint-serverless's.
    result = _run(SAM_CFN_LINT, "--append-rules", "cfn_lint_serverless.rules", "--", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # For this interpreter and machine, as `make validate` builds: the handlers are imported below.
    out = tmp_path_factory.mktemp("sam-build")
    target = local_target()
    step = build_step(target, {"PythonRuntime": target.runtime, "Architecture": target.arch}, str(SAM), out / "build")
    result = subprocess.run(
        [*step.argv, "--no-cached"],
        cwd=ROOT,
        env={**_env(), **step.env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "build"


def test_layer_has_the_package_under_python(build_dir: Path) -> None:
    layer = build_dir / "SharedLayer"
    assert (layer / "python" / "covid_pipeline" / "__init__.py").is_file()
    assert not (layer / "python" / "python").exists(), "layer nested as python/python/"
    # The layer's runtime dependencies, and none of the local-only engines.
    for dep in ("aws_lambda_powertools", "pydantic", "pydantic_core", "aws_xray_sdk"):
        assert (layer / "python" / dep).is_dir(), dep
    for local_only in ("duckdb", "pyarrow", "sqlglot", "pyspark"):
        assert not (layer / "python" / local_only).exists(), local_only


def test_function_packages_hold_only_the_handler(build_dir: Path) -> None:
    for name in FUNCTIONS:
        files = {p.name for p in (build_dir / name).iterdir()}
        assert files == {"app.py"}, (name, files)
        assert "app.py" in files, name


def test_built_handlers_import_from_the_layer_alone(build_dir: Path) -> None:
    # A fresh interpreter (no site-packages) with only the layer and the function on sys.path
    # (boto3 is pinned in the layer too). PIPELINE_ENV=aws must not pull duckdb/pyarrow in.
    code = (
        "import sys; sys.path[:0] = sys.argv[1:]\n"
        "import app\n"
        "assert callable(app.lambda_handler)\n"
        "assert not {'duckdb', 'pyarrow', 'sqlglot'} & set(sys.modules), sorted(sys.modules)\n"
    )
    for name in FUNCTIONS:
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", code, str(build_dir / "SharedLayer" / "python"), str(build_dir / name)],
            env={**_env(), "PIPELINE_ENV": "aws"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (name, result.stderr)


def test_checkov_has_no_failed_checks_and_every_skip_has_a_reason() -> None:
    result = _run(
        CHECKOV, "-f", "template.yaml", "--framework", "cloudformation", "--output", "json", "--skip-download"
    )
    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == [], failed
    assert result.returncode == 0, result.stderr
    assert report["summary"]["parsing_errors"] == 0
    skipped = report["results"]["skipped_checks"]
    no_reason = [
        (c["check_id"], c["resource"]) for c in skipped if not c["check_result"].get("suppress_comment", "").strip()
    ]
    assert no_reason == [], no_reason
