"""The composition root picks the adapters once, from PIPELINE_ENV, and says what is missing."""

import pytest

from covid_pipeline.adapters.aws.object_store import S3ObjectStore
from covid_pipeline.adapters.aws.warehouse import RedshiftDataApiWarehouse
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.composition import aws_ports, local_ports
from covid_pipeline.ports import PipelineError
from covid_pipeline.settings import load_settings


def test_local_environment_gets_local_adapters(local_env: dict[str, str]) -> None:
    ports = local_ports(load_settings(local_env))
    assert isinstance(ports.store, LocalObjectStore)


def test_aws_environment_gets_aws_adapters_without_calling_aws(local_env: dict[str, str]) -> None:
    env = {
        **local_env,
        "PIPELINE_ENV": "aws",
        "REDSHIFT_WORKGROUP": "wg",
        "REDSHIFT_COPY_ROLE_ARN": "arn:aws:iam::1:role/copy",
        "REDSHIFT_SECRET_ARN": "arn:aws:secretsmanager:us-east-2:1:secret:redshift!ns-admin-AbCdEf",
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-2:1:alerts",
    }
    ports = aws_ports(load_settings(env))
    assert isinstance(ports.store, S3ObjectStore)
    assert isinstance(ports.warehouse, RedshiftDataApiWarehouse)
    assert ports.warehouse.secret_arn == env["REDSHIFT_SECRET_ARN"]  # one database identity for every function
    # The template's statement deadline (QUERY_TIMEOUT_SECONDS, default 780 s) reaches both engines.
    assert ports.warehouse.timeout_s == ports.sql.timeout_s == 780.0


def test_aws_environment_names_missing_settings(local_env: dict[str, str]) -> None:
    with pytest.raises(
        PipelineError, match="REDSHIFT_WORKGROUP, REDSHIFT_COPY_ROLE_ARN, REDSHIFT_SECRET_ARN, ALERT_TOPIC_ARN"
    ):
        aws_ports(load_settings({**local_env, "PIPELINE_ENV": "aws"}))


def test_incomplete_environment_is_a_clear_error() -> None:
    with pytest.raises(PipelineError, match="RAW_BUCKET"):
        load_settings({"PIPELINE_ENV": "local"})
