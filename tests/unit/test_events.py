"""The sample events in events/ stay valid inputs of the step they are for."""

import json

import pytest
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

from covid_pipeline.domain.models import CrawlInput, LoadInput, SetupInput, StageInput, TriggerInput
from tests.helpers import ROOT

EVENTS = ROOT / "events"


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("setup-full-run.json", SetupInput),
        ("setup-upload.json", SetupInput),
        ("crawl-start.json", CrawlInput),
        ("crawl-poll.json", CrawlInput),
        ("stage.json", StageInput),
        ("load.json", LoadInput),
        ("s3-object-created.json", S3EventNotificationEventBridgeModel),
        ("trigger-sqs-batch.json", TriggerInput),
    ],
)
def test_sample_event_parses(name: str, model: type) -> None:
    parsed = model.model_validate(json.loads((EVENTS / name).read_text()))
    assert parsed is not None


def test_every_event_file_is_covered() -> None:
    covered = {
        "setup-full-run.json",
        "setup-upload.json",
        "crawl-start.json",
        "crawl-poll.json",
        "stage.json",
        "load.json",
        "s3-object-created.json",
        "execution-full-run.json",
        "trigger-sqs-batch.json",
    }
    assert {p.name for p in EVENTS.glob("*.json")} == covered


@pytest.mark.parametrize("bad", ["../x", "a b", "", "x" * 81])
def test_run_ids_that_could_escape_a_path_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="run_id"):
        StageInput(run_id=bad, manifest_uri="s3://b/m", staged_uri="s3://b/", quarantine_uri="s3://b/")
