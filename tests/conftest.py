"""Fixtures shared by every kind of test."""

from __future__ import annotations

from pathlib import Path

import pytest

from covid_pipeline.composition import Ports, local_ports
from covid_pipeline.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture
def local_env(tmp_path: Path) -> dict[str, str]:
    """A function environment like the one template.yaml gives, pointing at a fresh local home."""
    return {
        "PIPELINE_ENV": "local",
        "PIPELINE_HOME": str(tmp_path / "home"),
        "RAW_BUCKET": "test-raw",
        "LAKE_BUCKET": "test-lake",
        "GLUE_DATABASE": "test_raw",
        "RAW_CRAWLER": "test-raw-crawler",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "CovidPipelineTest",
    }


@pytest.fixture
def ports(local_env: dict[str, str]) -> Ports:
    return local_ports(load_settings(local_env))


@pytest.fixture
def handler_env(local_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """local_env set in the process environment, as Lambda gives a handler its configuration."""
    for key, value in local_env.items():
        monkeypatch.setenv(key, value)
    return local_env
