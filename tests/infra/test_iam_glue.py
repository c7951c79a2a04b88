"""The Glue roles can read what their jobs and crawlers are given: script, libraries, inputs.

A Glue job runs as its role: Glue fetches ``Command.ScriptLocation`` and every ``--extra-py-files``
object with it. AWSGlueServiceRole grants S3 reads on ``aws-glue-*`` buckets only (AWS Managed Policy
reference, AWSGlueServiceRole v5), so a script in SAM's artefact bucket - where ``sam deploy`` puts a
local ScriptLocation - cannot be read and every run fails before the first line.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import use_fake_aws
from tests.infra.iam_helpers import (
    Resolver,
    is_granted,
    role_of,
    s3_bucket,
    s3_object,
    statements_of_role,
    transformed_template,
)

pytest.importorskip("samtranslator")

# Where `sam deploy` (resolve_s3) uploads a local ScriptLocation: its managed artefact bucket.
SAM_ARTIFACTS = "aws-sam-cli-managed-default-samclisourcebucket-1a2b3c4d5e6f"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        return transformed_template()


def _object_arn(location: str) -> str:
    if not location.startswith("s3://"):
        return s3_object(SAM_ARTIFACTS, f"covid-pipeline-dev/{location}")  # packaged by sam deploy
    bucket, _, key = location.removeprefix("s3://").partition("/")
    return s3_object(bucket, key)


@pytest.mark.parametrize("job", ["CleanJob"])
def test_the_job_role_reads_its_script_and_libraries(template: dict[str, Any], job: str) -> None:
    resolver = Resolver(template)
    props = resolver.resolve(template["Resources"][job]["Properties"])
    statements = statements_of_role(template, role_of(template, job, "Role"), resolver)
    needed = [props["Command"]["ScriptLocation"], *props["DefaultArguments"]["--extra-py-files"].split(",")]
    for location in needed:
        assert is_granted(statements, "s3:GetObject", _object_arn(location)), f"{job}'s role cannot read {location}"


def test_the_job_role_reads_its_inputs_and_writes_only_its_outputs(template: dict[str, Any]) -> None:
    resolver = Resolver(template)
    statements = statements_of_role(template, role_of(template, "CleanJob", "Role"), resolver)
    lake = resolver.ref("LakeBucket")
    assert is_granted(statements, "s3:ListBucket", s3_bucket(lake))
    for prefix in ("staged/run/jhu/part-0.parquet", "work/run/manifest.jsonl"):
        assert is_granted(statements, "s3:GetObject", s3_object(lake, prefix))
    for prefix in ("curated/run/dim_date/part-0.parquet", "quarantine/run/part-0.parquet"):
        assert is_granted(statements, "s3:PutObject", s3_object(lake, prefix))
        assert is_granted(statements, "s3:DeleteObject", s3_object(lake, prefix))  # overwrite mode
    # Its own code and its inputs are read-only to it.
    for key in ("scripts/clean_job.py", "staged/run/jhu/part-0.parquet", "work/run/manifest.jsonl"):
        assert not is_granted(statements, "s3:PutObject", s3_object(lake, key)), key
