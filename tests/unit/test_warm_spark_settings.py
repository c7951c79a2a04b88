"""The warm Spark driver's two durations from the environment: how long it stays idle, how long a job waits."""

from __future__ import annotations

import pytest

from covid_pipeline.adapters.local import warm_spark


def test_defaults_when_unset_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COVID_PIPELINE_WARM_SPARK_WAIT", raising=False)
    monkeypatch.setenv("COVID_PIPELINE_WARM_SPARK_IDLE", " ")
    assert warm_spark.wait_seconds() == warm_spark.WAIT_SECONDS == 60
    assert warm_spark.idle_seconds() == warm_spark.IDLE_SECONDS == 600


def test_given_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVID_PIPELINE_WARM_SPARK_WAIT", "2.5")
    monkeypatch.setenv("COVID_PIPELINE_WARM_SPARK_IDLE", "0")
    assert warm_spark.wait_seconds() == 2.5
    assert warm_spark.idle_seconds() == 0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("soon", "a number of seconds"),
        ("-1", "a number of seconds, 0 or more"),
        ("nan", "a number of seconds, 0 or more"),
    ],
)
def test_a_bad_value_is_named(monkeypatch: pytest.MonkeyPatch, text: str, says: str) -> None:
    monkeypatch.setenv("COVID_PIPELINE_WARM_SPARK_WAIT", text)
    with pytest.raises(ValueError, match=f"COVID_PIPELINE_WARM_SPARK_WAIT must be {says}.*'{text}'"):
        warm_spark.wait_seconds()
