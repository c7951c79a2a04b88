"""`make deploy` builds for the TARGET runtime and architecture, and deploys only that build.

The layer's compiled wheels (pydantic_core, wrapt) must match the Lambda runtime's Python ABI and the
functions' architecture; a layer built for the machine running the build imports nowhere else. The
layer is built by layers/shared/Makefile with pip's cross-platform install (``--platform
manylinux2014_<arch> --python-version X.Y --only-binary=:all:``), here for python3.12 on x86_64 and
arm64 from this python3.11 machine, and the built files' ABI/platform tags are checked.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from deploy import run
from deploy.run import DEPLOY_BUILD, VALIDATE_BUILD, Target, build_step, plan
from tests.helpers import ROOT
from tests.infra.iam_helpers import raw_template

SAM = ROOT / ".venv-tools" / "bin" / "sam"
MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}


def test_layer_makefile_and_deploy_defaults_equal_the_templates() -> None:
    params = raw_template()["Parameters"]
    makefile = (ROOT / "layers" / "shared" / "Makefile").read_text()
    assert f"LAYER_PYTHON ?= {params['PythonRuntime']['Default'].removeprefix('python')}" in makefile
    assert f"LAYER_ARCH ?= {params['Architecture']['Default']}" in makefile
    assert (
        params["PythonRuntime"]["Default"],
        params["Architecture"]["Default"],
    ) == (run.DEFAULT_RUNTIME, run.DEFAULT_ARCH)
    assert set(params["Architecture"]["AllowedValues"]) == set(run.ARCHITECTURES) == set(MACHINE)


def test_the_layer_and_functions_build_with_the_makefile_method() -> None:
    resources = raw_template()["Resources"]
    assert resources["SharedLayer"]["Metadata"]["BuildMethod"] == "makefile"
    assert resources["SharedLayer"]["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
    for lid, res in resources.items():
        if res["Type"] == "AWS::Serverless::Function":
            assert res["Metadata"]["BuildMethod"] == "makefile", lid  # no python3.X interpreter needed


@pytest.mark.parametrize("env", ["default", "dev", "prod"])
def test_samconfig_pins_the_target_and_deploys_the_deploy_build(env: str) -> None:
    overrides = run.parameter_overrides(env)
    assert overrides["PythonRuntime"].startswith("python3.")
    assert overrides["Architecture"] in run.ARCHITECTURES
    deploy = run.samconfig(env)["deploy"]["parameters"]
    assert deploy["template_file"] == str(DEPLOY_BUILD / "template.yaml")


def test_deploy_builds_for_samconfigs_target_and_deploys_that_build() -> None:
    build, deploy, upload = plan("dev", None, {}, "sam")
    assert build.env["LAYER_PYTHON"] == "3.12"
    assert build.env["LAYER_ARCH"] == "x86_64"
    assert build.argv[build.argv.index("--build-dir") + 1] == str(DEPLOY_BUILD)
    assert deploy.argv[deploy.argv.index("--template-file") + 1] == str(DEPLOY_BUILD / "template.yaml")
    overrides = deploy.argv[deploy.argv.index("--parameter-overrides") + 1]
    assert "PythonRuntime=python3.12" in overrides
    assert "Architecture=x86_64" in overrides
    assert "StageName=dev" in overrides  # samconfig's own overrides are kept, not replaced
    assert upload.argv[-2:] == ["--upload-to-stack", "covid-pipeline-dev"]


def test_arm64_is_a_parameter_and_the_layer_follows_it() -> None:
    build, deploy, _ = plan("dev", "s", {"Architecture": "arm64"}, "sam")
    assert build.env["LAYER_ARCH"] == "arm64"
    assert "Architecture=arm64" in deploy.argv[deploy.argv.index("--parameter-overrides") + 1]
    with pytest.raises(SystemExit, match="Architecture=sparc"):
        plan("dev", "s", {"Architecture": "sparc"}, "sam")


def test_no_validation_build_lands_where_deploy_reads() -> None:
    dry = subprocess.run(["make", "-n", "validate"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert f"--build-dir {VALIDATE_BUILD}" in dry
    assert str(DEPLOY_BUILD) not in dry
    assert ".aws-sam/build" not in dry  # where a bare `sam deploy` without samconfig would look
    assert VALIDATE_BUILD != DEPLOY_BUILD


def test_a_bare_make_prints_the_help() -> None:
    # A stray text line with a colon once became the Makefile's first target: `make` alone failed.
    dry = subprocess.run(["make", "-n"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert dry.returncode == 0, dry.stderr
    assert "make run " in dry.stdout
    assert "make test " in dry.stdout


def _so_tags(layer: Path) -> set[str]:
    """The ABI/platform part of every compiled extension's file name (e.g. cpython-312-aarch64-linux-gnu)."""
    return {m.group(1) for so in layer.rglob("*.so") if (m := re.search(r"\.(cpython-[^.]+)\.so$", so.name))}


def _wheel_tags(layer: Path) -> set[str]:
    tags = set()
    for wheel in layer.glob("*.dist-info/WHEEL"):
        text = wheel.read_text()
        if "Root-Is-Purelib: false" in text:
            tags |= set(re.findall(r"^Tag: (\S+)$", text, re.MULTILINE))
    return tags


@pytest.mark.skipif(not SAM.exists(), reason=".venv-tools/bin/sam missing: run `make tools`")
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_the_built_layer_carries_the_targets_abi_and_platform(arch: str, tmp_path: Path) -> None:
    target = Target("python3.12", arch)
    step = build_step(target, {"PythonRuntime": target.runtime, "Architecture": arch}, str(SAM), tmp_path / "build")
    env = {k: v for k, v in os.environ.items() if k != "AWS_PROFILE"}
    env |= {"AWS_DEFAULT_REGION": "us-east-2", "SAM_CLI_TELEMETRY": "0", **step.env}
    # Only the layer: the functions are a copied handler each (tested by test_sam_checkov).
    argv = [*step.argv[:2], "SharedLayer", *step.argv[2:]]
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    layer = tmp_path / "build" / "SharedLayer" / "python"
    assert (layer / "covid_pipeline" / "__init__.py").is_file()
    so = _so_tags(layer)
    assert so == {f"cpython-312-{MACHINE[arch]}-linux-gnu"}, so  # pydantic_core, wrapt: the target's ABI only
    wheels = _wheel_tags(layer)
    assert wheels, "no compiled wheel in the layer"
    assert all(t.startswith("cp312-cp312-manylinux") and t.endswith(MACHINE[arch]) for t in wheels), wheels
