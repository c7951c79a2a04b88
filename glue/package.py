"""Builds the zip that the Glue job gets as ``--extra-py-files``: the transforms and the contract they import.

    python glue/package.py [--out dist/covid_glue_libs.zip] [--upload-to-stack STACK]

The Glue job imports ``covid_transforms`` and, from the shared library, only the
contract modules (schema, feeds, keys, region_names and the reference data they read:
the region alias tables), which need nothing but the standard library.
The zip is deterministic (sorted entries, fixed timestamps), so an unchanged build
uploads an identical object. ``--upload-to-stack`` uploads the zip AND the job's script
(glue/clean_job.py) to the URIs the stack's outputs GlueLibrariesUri / GlueScriptUri name -
the lake bucket's scripts/, which CleanJobRole reads (deploy time only; needs AWS credentials).
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LIBS_KEY = "scripts/covid_glue_libs.zip"  # the key template.yaml's CleanJob --extra-py-files points at
SOURCES: dict[str, Path] = {
    "covid_transforms": ROOT / "glue" / "covid_transforms",
    "covid_pipeline": ROOT / "layers" / "shared" / "python" / "covid_pipeline",
}
# The shared library's modules the transforms import (and only those: no pydantic, boto3 or DuckDB on Glue).
CONTRACT_MODULES = (
    "__init__.py",
    "schema.py",
    "feeds.py",
    "keys.py",
    "reference_data.py",
    "region_names.py",
    "region_levels.py",
)
# The reference data those modules read (the lookups themselves reach the job staged, like any feed).
CONTRACT_DATA = ("reference/region_aliases.csv", "reference/province_codes.csv", "reference/region_levels.csv")


def members() -> list[tuple[str, Path]]:
    files = [(f"covid_transforms/{p.name}", p) for p in sorted(SOURCES["covid_transforms"].glob("*.py"))]
    files += [
        (f"covid_pipeline/{name}", SOURCES["covid_pipeline"] / name) for name in (*CONTRACT_MODULES, *CONTRACT_DATA)
    ]
    return files


def build(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, path in members():
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return out


SCRIPT = ROOT / "glue" / "clean_job.py"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return bucket, key


def upload(out: Path, stack: str, cloudformation: Any = None, s3: Any = None) -> list[str]:
    """Upload the libraries zip and the job script to where the stack's outputs say the job reads them."""
    import boto3

    cloudformation = cloudformation or boto3.client("cloudformation")
    s3 = s3 or boto3.client("s3")
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    uris = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    uploaded = []
    for output, path in (("GlueLibrariesUri", out), ("GlueScriptUri", SCRIPT)):
        if output not in uris:
            raise SystemExit(f"stack {stack} has no output {output}: deploy the current template first")
        s3.upload_file(str(path), *_split(uris[output]))
        uploaded.append(uris[output])
    return uploaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "covid_glue_libs.zip")
    parser.add_argument("--upload-to-stack", metavar="STACK")
    args = parser.parse_args(argv)
    out = build(args.out)
    print(f"built {out} ({len(members())} modules)")
    if args.upload_to_stack:
        for uri in upload(out, args.upload_to_stack):
            print(f"uploaded {uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
