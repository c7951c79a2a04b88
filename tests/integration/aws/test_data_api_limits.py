"""The full-history load, request by request, within the Redshift Data API's documented limits.

Spark writes a part file even for an empty table, so a full-history load always carries all
seven tables. Each request is checked by the strict model check (conftest.py), which knows
``BatchExecuteStatement.Sqls`` max 40 from botocore's service model - botocore itself checks
only the minimum, and the service refuses a 41st statement.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from covid_pipeline.adapters.aws.warehouse import RedshiftDataApiWarehouse
from covid_pipeline.domain.load import table_loads
from covid_pipeline.domain.models import LoadInput
from covid_pipeline.ports import EngineError, TableLoad
from covid_pipeline.schema import TABLES
from tests import strict_model
from tests.helpers import use_fake_aws

REGION = "us-east-2"
ROLE = "arn:aws:iam::123456789012:role/covid-redshift-copy"


class DataApi:
    """Answers every Data API call at before-call (as Stubber does) and keeps each batch's statements."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.result_set: dict[str, bool] = {}

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        request = json.loads(params["body"] or b"{}")
        if model.name in ("BatchExecuteStatement", "ExecuteStatement"):
            statement = str(uuid.uuid4())
            self.result_set[statement] = model.name == "ExecuteStatement"
            if model.name == "BatchExecuteStatement":
                self.batches.append(request["Sqls"])
            body: dict[str, Any] = {"Id": statement}
        elif model.name == "DescribeStatement":
            body = {"Id": request["Id"], "Status": "FINISHED", "HasResultSet": self.result_set[request["Id"]]}
        elif model.name == "GetStatementResult":
            body = {"Records": [[{"stringValue": name}, {"longValue": 1}] for name in TABLES]}
        else:
            raise AssertionError(f"unexpected Data API call {model.name}")
        return AWSResponse("https://redshift-data.invalid", 200, {}, None), body


@pytest.fixture
def data_api(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, DataApi]:
    use_fake_aws(monkeypatch)
    client = boto3.client("redshift-data", region_name=REGION)
    responder = DataApi()
    client.meta.events.register("before-call.redshift-data.*", responder)
    return client, responder


def test_full_history_load_has_every_table_and_fits_the_batch_limit(
    data_api: tuple[Any, DataApi], strict_requests: list[str]
) -> None:
    client, responder = data_api
    loads = table_loads(
        LoadInput(run_id="full-run", curated_uri="s3://lake/curated/full-run/", quarantine_uri="s3://lake/quarantine/")
    )
    assert {load.table for load in loads} == set(TABLES)
    warehouse = RedshiftDataApiWarehouse(database="covid", iam_role_arn=ROLE, workgroup_name="covid-wg", client=client)

    result = warehouse.load("full-run", loads)

    assert set(result.rows_merged) == set(TABLES)
    assert "redshift-data.BatchExecuteStatement" in strict_requests  # the strict check saw the batch
    limit = client.meta.service_model.operation_model("BatchExecuteStatement").input_shape.members["Sqls"].metadata
    assert limit["max"] == 40
    assert all(len(batch) <= limit["max"] for batch in responder.batches), [len(b) for b in responder.batches]
    copies = [sql for batch in responder.batches for sql in batch if sql.startswith("COPY")]
    assert len(copies) == len(TABLES)  # every table is still loaded, in the one load transaction
    assert sum(1 for batch in responder.batches if any(s.startswith("COPY") for s in batch)) == 1


def test_strict_check_refuses_what_botocore_lets_through(data_api: tuple[Any, DataApi]) -> None:
    """The check itself: 41 statements pass botocore's own validation but not the model's maximum."""
    client, _ = data_api
    with pytest.raises(strict_model.StrictModelError, match=r"Sqls: 41 items, above the model's max 40"):
        client.batch_execute_statement(Sqls=["SELECT 1"] * 41, Database="covid", WorkgroupName="covid-wg")


def test_a_batch_over_the_limit_is_refused_before_it_is_sent(
    data_api: tuple[Any, DataApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, responder = data_api
    warehouse = RedshiftDataApiWarehouse(database="covid", iam_role_arn=ROLE, workgroup_name="covid-wg", client=client)
    monkeypatch.setattr(warehouse, "_max_batch", lambda: 3)
    with pytest.raises(EngineError, match=r"has \d+ statements; the Data API allows at most 3"):
        warehouse.load("r", [TableLoad("dim_date", "s3://lake/curated/r/dim_date/")])
    assert responder.batches == []
