"""Builders of tiny staged frames on the session's one SparkSession (``spark``, tests/conftest.py)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from covid_pipeline import feeds
from covid_transforms.contract import staged_schema
from tests.helpers import ARROW_TYPES

StagedFactory = Callable[..., DataFrame]


def pytest_configure(config: pytest.Config) -> None:
    # assertDataFrameEqual imports pyspark.pandas, which warns about its own pyarrow setup
    # and still uses distutils' LooseVersion: noise, not something these tests can fix.
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    config.addinivalue_line("filterwarnings", "ignore:distutils Version classes are deprecated:DeprecationWarning")


FrameFactory = Callable[[list[tuple[Any, ...]], T.StructType], DataFrame]


@pytest.fixture(scope="session")
def parquet_frame(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> FrameFactory:
    """``parquet_frame(rows, schema)``: a frame of these rows, read from a Parquet file written here.

    As the job reads what Stage wrote. A frame made by ``spark.createDataFrame`` from Python rows is a Python
    RDD, which every Spark job reading it runs again in PySpark's Python workers: for the frames that star
    builds read many times (staged feeds, manifests), those workers took 30 of the transforms tests' 145 CPU-s.
    """
    folder = tmp_path_factory.mktemp("frames")
    written = itertools.count()

    def build(rows: list[tuple[Any, ...]], schema: T.StructType) -> DataFrame:
        arrow = pa.schema([(f.name, ARROW_TYPES[f.dataType.simpleString()]) for f in schema.fields])
        table = pa.Table.from_pylist([dict(zip(schema.fieldNames(), row, strict=True)) for row in rows], arrow)
        path = folder / f"{next(written)}.parquet"
        pq.write_table(table, path)
        return spark.read.schema(schema).parquet(str(path))

    return build


@pytest.fixture(scope="session")
def staged(parquet_frame: FrameFactory) -> StagedFactory:
    """``staged(feed_name, rows, source_object=...)``: a staged frame with the feed's exact schema.

    Each row is a mapping of some of the feed's columns (the rest are null); rows
    without ``_source_object`` get the default one.
    """

    def build(feed_name: str, rows: list[Mapping[str, Any]], source_object: str = "s3://raw/x.csv") -> DataFrame:
        feed = feeds.FEEDS[feed_name]
        schema = staged_schema(feed)
        unknown = {k for row in rows for k in row} - set(schema.fieldNames())
        assert not unknown, f"not columns of {feed_name}: {unknown}"
        defaults = {feeds.SOURCE_OBJECT: source_object}
        data = [tuple({**defaults, **row}.get(name) for name in schema.fieldNames()) for row in rows]
        return parquet_frame(data, schema)

    return build


UID = "s3://raw/reference/jhu-uid-lookup/UID_ISO_FIPS_LookUp_Table.csv"
STATES = "s3://raw/reference/state-fips/state_fips_master.csv"

# A slice of JHU's lookup: a country, states (FIPS padded to 5, as JHU writes them),
# territories only the lookup knows (Guam), counties, a cruise ship's pseudo FIPS.
UID_ROWS: list[dict[str, Any]] = [
    {"uid": 156, "iso2": "CN", "country_region": "China", "population": 1404676330},
    {"uid": 840, "iso2": "US", "country_region": "US", "latitude": 40.0, "longitude": -100.0},
    {"uid": 84000016, "iso2": "US", "fips": "00016", "province_state": "Idaho", "country_region": "US",
     "latitude": 44.2, "longitude": -114.5, "population": 1787065},
    {"uid": 84016001, "iso2": "US", "fips": "16001", "admin2": "Ada", "province_state": "Idaho",
     "country_region": "US", "latitude": 43.45, "longitude": -116.24, "population": 481587},
    {"uid": 84000036, "iso2": "US", "fips": "00036", "province_state": "New York", "country_region": "US",
     "population": 19453561},
    {"uid": 316, "iso2": "GU", "fips": "66", "province_state": "Guam", "country_region": "US",
     "population": 164229},
    {"uid": 630, "iso2": "PR", "fips": "72", "province_state": "Puerto Rico", "country_region": "US"},
    {"uid": 63072097, "iso2": "PR", "fips": "72097", "admin2": "Mayaguez", "province_state": "Puerto Rico",
     "country_region": "US", "population": 89080},
    {"uid": 84088888, "iso2": "US", "fips": "88888", "province_state": "Diamond Princess", "country_region": "US"},
]  # fmt: skip
STATE_ROWS: list[dict[str, Any]] = [
    {"state_name": "Idaho", "state_abbr": "ID", "fips": "16"},
    {"state_name": "New York", "state_abbr": "NY", "fips": "36"},
    {"state_name": "Puerto Rico", "state_abbr": "PR", "fips": "72"},
    {"state_name": "District of Columbia", "state_abbr": "DC", "fips": "11"},  # not a lookup state row
]


@pytest.fixture(scope="session")
def reference(staged: StagedFactory) -> dict[str, Any]:
    """The staged, classified and accepted reference feeds, and the state lookups built from them."""
    from covid_transforms import quality
    from covid_transforms.names import build_resolver
    from covid_transforms.regions import classify_uid_lookup
    from covid_transforms.states import build_state_lookups, classify_state_fips

    uid_staged = staged("uid_lookup", UID_ROWS, UID)
    states_staged = staged("state_fips", STATE_ROWS, STATES)
    uid = classify_uid_lookup(uid_staged).cache()
    states = classify_state_fips(states_staged).cache()
    lookups = build_state_lookups(quality.accepted(states), quality.accepted(uid))
    return {
        "uid_staged": uid_staged,
        "state_fips_staged": states_staged,
        "uid": quality.accepted(uid),
        "state_fips": quality.accepted(states),
        "lookups": lookups,
        "resolver": build_resolver(uid_staged, [states_staged]),
        "staged_rows": len(UID_ROWS) + len(STATE_ROWS),
    }
