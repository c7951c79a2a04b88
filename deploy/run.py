"""`make deploy`: build for the target Lambda runtime and architecture, deploy THAT build, upload the Glue code.

    python -m deploy.run [--config-env dev] [--stack NAME] [--set Key=Value ...] [--guided] [--dry-run]

* The target is what the deploy will run: ``PythonRuntime`` and ``Architecture`` of the config
  environment's ``parameter_overrides`` in samconfig.toml (pinned there), or a ``--set`` of them
  (``make deploy ARCH=arm64``). The layer is built for it by layers/shared/Makefile with pip's
  cross-platform wheel install, so neither Docker nor an interpreter of the target version is needed.
* The deploy build lives in ``.aws-sam/deploy/build`` and ``sam deploy`` is given its template
  explicitly (samconfig.toml names it too): a validation build (``make validate``, local interpreter,
  ``.aws-sam/validate/build``) can never be what gets deployed, and ``.aws-sam/build`` - where a bare
  ``sam build`` writes and where a bare ``sam deploy`` would look - is not used at all.
* Then glue/package.py uploads the Clean job's script and libraries to the stack's GlueScriptUri /
  GlueLibrariesUri outputs, so the one command leaves a runnable stack.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = ROOT / "samconfig.toml"
DEPLOY_DIR = Path(".aws-sam") / "deploy"
DEPLOY_BUILD = DEPLOY_DIR / "build"
VALIDATE_BUILD = Path(".aws-sam") / "validate" / "build"
ARCHITECTURES = ("x86_64", "arm64")
# template.yaml's defaults, used when samconfig pins nothing (tests/infra/test_build_target.py keeps them equal).
DEFAULT_RUNTIME = "python3.12"
DEFAULT_ARCH = "x86_64"


@dataclass(frozen=True)
class Target:
    runtime: str  # python3.12
    arch: str  # x86_64 | arm64

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    def layer_env(self, python: str = sys.executable) -> dict[str, str]:
        """What layers/shared/Makefile builds for: LAYER_PYTHON, LAYER_ARCH, and the pip that downloads."""
        return {"LAYER_PYTHON": self.python_version, "LAYER_ARCH": self.arch, "PIP": f"{python} -m pip"}


@dataclass(frozen=True)
class Step:
    what: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def local_target() -> Target:
    """The interpreter running this: what `make validate` builds for (its build is imported by tests)."""
    machine = platform.machine().lower()
    arch = "arm64" if machine in ("aarch64", "arm64") else "x86_64"
    return Target(f"python{sys.version_info.major}.{sys.version_info.minor}", arch)


def samconfig(config_env: str, path: Path = SAMCONFIG) -> dict[str, dict[str, object]]:
    doc = tomllib.loads(path.read_text())
    if config_env not in doc:
        raise SystemExit(
            f"samconfig.toml has no environment {config_env!r} (has {sorted(k for k in doc if k != 'version')})"
        )
    return doc[config_env]


def parameter_overrides(config_env: str, path: Path = SAMCONFIG) -> dict[str, str]:
    """The environment's deploy parameter_overrides as a dict (``Key=Value`` pairs, shell-quoted)."""
    text = str(samconfig(config_env, path).get("deploy", {}).get("parameters", {}).get("parameter_overrides", ""))
    pairs = {}
    for item in shlex.split(text):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(
                f"samconfig.toml [{config_env}.deploy.parameters] parameter_overrides: {item!r} is not Key=Value"
            )
        pairs[key] = value
    return pairs


def stack_name(config_env: str, path: Path = SAMCONFIG) -> str:
    env = samconfig(config_env, path)
    for section in ("deploy", "global"):
        name = env.get(section, {}).get("parameters", {}).get("stack_name")
        if name:
            return str(name)
    raise SystemExit(f"samconfig.toml [{config_env}] names no stack_name")


def target_of(overrides: Mapping[str, str]) -> Target:
    runtime = overrides.get("PythonRuntime", DEFAULT_RUNTIME)
    arch = overrides.get("Architecture", DEFAULT_ARCH)
    if not runtime.startswith("python3."):
        raise SystemExit(f"PythonRuntime={runtime}: not a Python Lambda runtime")
    if arch not in ARCHITECTURES:
        raise SystemExit(f"Architecture={arch}: must be one of {ARCHITECTURES}")
    return Target(runtime, arch)


def _overrides_arg(overrides: Mapping[str, str]) -> str:
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in overrides.items())


def build_step(target: Target, overrides: Mapping[str, str], sam: str, build_dir: Path = DEPLOY_BUILD) -> Step:
    cache = build_dir.parent / "cache"
    argv = [sam, "build", "--template-file", "template.yaml", "--build-dir", str(build_dir), "--cache-dir", str(cache)]
    argv += ["--parameter-overrides", _overrides_arg(overrides)]
    return Step(f"build for {target.runtime}/{target.arch}", argv, target.layer_env())


def plan(config_env: str, stack: str | None, extra: Mapping[str, str], sam: str, guided: bool = False) -> list[Step]:
    overrides = {**parameter_overrides(config_env), **extra}
    target = target_of(overrides)
    overrides.setdefault("PythonRuntime", target.runtime)
    overrides.setdefault("Architecture", target.arch)
    name = stack or stack_name(config_env)
    deploy = [sam, "deploy", "--config-env", config_env, "--stack-name", name]
    deploy += [
        "--template-file",
        str(DEPLOY_BUILD / "template.yaml"),
        "--parameter-overrides",
        _overrides_arg(overrides),
    ]
    if guided:
        deploy.append("--guided")
    upload = [sys.executable, "glue/package.py", "--out", "dist/covid_glue_libs.zip", "--upload-to-stack", name]
    return [build_step(target, overrides, sam), Step("deploy", deploy), Step("upload the Glue job's code", upload)]


def _parse_set(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {item!r}: expected Key=Value")
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-env", default="default")
    parser.add_argument("--stack", help="stack name (default: samconfig.toml's stack_name of the environment)")
    parser.add_argument("--set", action="append", default=[], metavar="Key=Value", help="a parameter override")
    parser.add_argument("--sam", default=str(ROOT / ".venv-tools" / "bin" / "sam"))
    parser.add_argument("--guided", action="store_true", help="sam deploy --guided (asks for every parameter)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    steps = plan(args.config_env, args.stack, _parse_set(args.set), args.sam, args.guided)
    for step in steps:
        env_text = " ".join(f"{k}={shlex.quote(v)}" for k, v in step.env.items())
        print(f"# {step.what}\n{env_text + ' ' if env_text else ''}{shlex.join(step.argv)}", flush=True)
        if not args.dry_run:
            # The argv is built above from samconfig.toml and fixed tool paths; no shell is involved.
            subprocess.run(step.argv, cwd=ROOT, env={**os.environ, **step.env}, check=True)  # noqa: S603
    return 0


if __name__ == "__main__":
    sys.exit(main())
