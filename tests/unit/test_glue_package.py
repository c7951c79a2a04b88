"""The Glue job's --extra-py-files zip is complete: the transforms import from it alone."""

from __future__ import annotations

import io
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from glue.package import LIBS_KEY, build, upload
from tests.helpers import ROOT, use_fake_aws
from tests.infra.iam_helpers import raw_template


def test_zip_holds_the_transforms_and_only_the_contract_modules(tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(build(tmp_path / "libs.zip")).namelist())
    assert "covid_transforms/star.py" in names
    assert {"covid_pipeline/schema.py", "covid_pipeline/feeds.py", "covid_pipeline/keys.py"} <= names
    assert "covid_pipeline/composition.py" not in names  # pydantic/boto3/DuckDB stay out of Glue


def test_zip_is_deterministic(tmp_path: Path) -> None:
    assert build(tmp_path / "a.zip").read_bytes() == build(tmp_path / "b.zip").read_bytes()


def test_transforms_import_from_the_zip_alone(tmp_path: Path) -> None:
    libs = build(tmp_path / "libs.zip")
    # -S: no site processing, so the editable install of this repo is not on the path; pyspark is added
    # from site-packages by hand, after the zip, as Glue puts --extra-py-files before its own libraries.
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2]);"
        "import covid_transforms.star as s, covid_pipeline.schema as c;"
        "assert s.__file__.startswith(sys.argv[1]) and c.__file__.startswith(sys.argv[1]), (s.__file__, c.__file__);"
        "print('ok')"
    )
    site = sysconfig.get_paths()["purelib"]
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code, str(libs), site], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_template_points_the_job_at_what_deploy_uploads() -> None:
    """The job reads script and libraries from the stack outputs the upload writes to: one source of truth."""
    template = raw_template()
    job = template["Resources"]["CleanJob"]["Properties"]
    outputs = template["Outputs"]
    assert job["Command"]["ScriptLocation"] == outputs["GlueScriptUri"]["Value"]
    assert job["DefaultArguments"]["--extra-py-files"] == outputs["GlueLibrariesUri"]["Value"]
    assert outputs["GlueLibrariesUri"]["Value"] == {"Fn::Sub": f"s3://${{LakeBucket}}/{LIBS_KEY}"}


def test_upload_puts_script_and_libraries_where_the_stack_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_aws(monkeypatch)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-2")
        s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
        cloudformation = boto3.client("cloudformation", region_name="us-east-2")
        outputs = [
            {"OutputKey": "GlueScriptUri", "OutputValue": "s3://lake/scripts/clean_job.py"},
            {"OutputKey": "GlueLibrariesUri", "OutputValue": f"s3://lake/{LIBS_KEY}"},
        ]
        stack = {"StackName": "s", "CreationTime": "2026-01-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE"}
        with Stubber(cloudformation) as stub:
            stub.add_response("describe_stacks", {"Stacks": [{**stack, "Outputs": outputs}]}, {"StackName": "s"})
            uploaded = upload(build(tmp_path / "libs.zip"), "s", cloudformation=cloudformation, s3=s3)
        assert uploaded == [f"s3://lake/{LIBS_KEY}", "s3://lake/scripts/clean_job.py"]
        script = s3.get_object(Bucket="lake", Key="scripts/clean_job.py")["Body"].read()
        assert script == (ROOT / "glue" / "clean_job.py").read_bytes()
        assert zipfile.is_zipfile(io.BytesIO(s3.get_object(Bucket="lake", Key=LIBS_KEY)["Body"].read()))
