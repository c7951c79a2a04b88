"""Validation rules: the first failing rule gives the reason; duplicates; quarantine rows."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from covid_pipeline import feeds
from covid_transforms import quality
from covid_transforms.cases import classify_jhu

pytestmark = pytest.mark.spark

DAY = date(2020, 4, 12)


def _jhu(**values: object) -> dict[str, object]:
    row: dict[str, object] = {"country_region": "US", "province_state": "Idaho", "admin2": "Ada"}
    row |= {"confirmed": 10, "deaths": 1, "report_date": DAY}
    return row | values


def test_required_values_are_the_identity_columns() -> None:
    assert quality.required_values(feeds.JHU_DAILY) == ("_source_object", "country_region", "report_date")
    assert quality.required_values(feeds.NYT_US_COUNTY) == ("_source_object", "date", "county", "state")
    assert quality.required_values(feeds.CTP_STATES_DAILY) == ("_source_object", "date", "state")
    assert quality.required_values(feeds.HOSPITAL_BEDS) == ("_source_object", "hospital_name", "hq_state")
    assert quality.required_values(feeds.STATE_FIPS) == ("_source_object", "state_name", "state_abbr", "fips")


def test_first_failing_rule_gives_the_reason(staged, reference) -> None:
    rows = [
        # Every rule fails: the cast error wins.
        _jhu(admin2="A", country_region=None, confirmed=-1, fips="x", _cast_errors="deaths='n/a'"),
        _jhu(admin2="B", country_region="  ", confirmed=-1, fips="x"),
        _jhu(admin2="C", report_date=None, fips="x"),
        _jhu(admin2="D", confirmed=-1, recovered=-2, fips="x"),
        _jhu(admin2="E", deaths=-3, fips="x"),
        _jhu(admin2="F", fips="123456"),
        # Allowed: negative active (JHU), blank counts kept as null, JHU's float FIPS.
        _jhu(admin2="G", active=-5, confirmed=None, deaths=None, fips="16001.0"),
    ]
    got = {
        r.admin2: r._reason
        for r in classify_jhu(staged("jhu_daily", rows), reference["resolver"])
        .select("admin2", quality.REASON)
        .collect()
    }
    assert got == {
        "A": "unparseable value: deaths='n/a'",
        "B": "missing required value: country_region",
        "C": "missing required value: report_date",
        "D": "negative count: confirmed=-1",
        "E": "negative count: deaths=-3",
        "F": "invalid fips: '123456'",
        "G": None,
    }


def test_duplicates_keep_the_later_object_then_the_smaller_record(staged, reference) -> None:
    early = staged("jhu_daily", [_jhu(confirmed=1)], source_object="s3://raw/enigma-jhu/csv/a.csv")
    late = staged(
        "jhu_daily",
        [_jhu(confirmed=3), _jhu(confirmed=2), _jhu(admin2="ada  ", confirmed=4), _jhu(confirmed=-1)],
        source_object="s3://raw/enigma-jhu/csv/b.csv",
    )
    classified = classify_jhu(early.unionByName(late), reference["resolver"])
    got = {(r.confirmed, r._reason) for r in classified.select("confirmed", quality.REASON).collect()}
    key = (
        f"region_key={classified.first().region_key} (country_region=us, province_state=idaho, county=ada), "
        "date_key=20200412, source=jhu (kept s3://raw/enigma-jhu/csv/b.csv)"
    )
    assert got == {
        (2, None),  # b.csv is the later object; among its rows "confirmed":2 sorts first
        (1, f"duplicate key: {key}"),
        (3, f"duplicate key: {key}"),
        (4, f"duplicate key: {key}"),  # names differ only by case and spaces: same region
        (-1, "negative count: confirmed=-1"),  # rejected rows take no part in the choice
    }


def test_quarantine_rows_have_stable_unique_ids(staged, reference) -> None:
    same = _jhu(confirmed=-7)
    df = staged("jhu_daily", [same, same, same, _jhu(admin2="Boise", confirmed=1)], source_object="s3://raw/r.csv")
    rows = quality.quarantine({"jhu_daily": classify_jhu(df, reference["resolver"])}, "run-1").collect()
    assert len(rows) == 3
    assert {r.row_id for r in rows} == {
        hashlib.sha256(f"s3://raw/r.csv|{rows[0].record}{suffix}".encode()).hexdigest() for suffix in ("", "|2", "|3")
    }
    record = json.loads(rows[0].record)
    assert list(record) == [c.name for c in feeds.JHU_DAILY.columns] + ["_source_object", "_cast_errors"]
    assert record["confirmed"] == -7
    assert record["fips"] is None
    assert record["report_date"] == "2020-04-12"
    assert {(r.run_id, r.feed, r.source_object, r.reason) for r in rows} == {
        ("run-1", "jhu_daily", "s3://raw/r.csv", "negative count: confirmed=-7")
    }


def test_accepted_and_quarantined_partition_the_rows(staged, reference) -> None:
    rows = [_jhu(admin2=str(i), confirmed=i - 2) for i in range(6)]
    classified = classify_jhu(staged("jhu_daily", rows), reference["resolver"])
    quarantined = quality.quarantine({"jhu_daily": classified}, "r")
    assert quality.accepted(classified).count() + quarantined.count() == len(rows)
    prefix = quarantined.select(quality.reason_prefix(F.col("reason")).alias("p")).distinct().collect()
    assert [r.p for r in prefix] == ["negative count"]


def test_duplicates_match_one_window_ranking_by_object_then_record(spark) -> None:
    """mark_duplicates builds few records; it must equal one window over all rows, by object then record."""
    rng = random.Random(5)
    objects = [None, "s3://raw/a.csv", "s3://raw/b.csv", "s3://raw/c.csv"]
    reasons = [None, None, None, "negative count: x=-1"]
    rows = [
        (
            rng.choice(["k1", "k2", "k3", None]),
            rng.randint(0, 1),
            rng.choice(objects),
            rng.randint(0, 2),
            rng.choice(reasons),
        )
        for _ in range(400)
    ]
    df = spark.createDataFrame(rows, f"k string, d int, {feeds.SOURCE_OBJECT} string, v int, {quality.REASON} string")
    key = [("k", F.col("k")), ("d", F.col("d")), ("source", F.lit("t"))]
    record = F.to_json(F.struct("k", "d", feeds.SOURCE_OBJECT, "v"))

    got = quality.mark_duplicates(df, key, record)

    candidate = F.col(quality.REASON).isNull()
    window = Window.partitionBy("k", "d", candidate).orderBy(F.col(feeds.SOURCE_OBJECT).desc(), record.asc())
    kept = F.first(feeds.SOURCE_OBJECT).over(window)
    text = F.concat_ws(
        ", ",
        F.concat(F.lit("k="), F.coalesce("k", F.lit("null"))),
        F.concat(F.lit("d="), F.col("d").cast("string")),
        F.lit("source=t"),
    )
    reference = df.withColumn(
        quality.REASON,
        F.when(
            candidate & (F.row_number().over(window) > 1),
            F.concat(F.lit("duplicate key: "), text, F.lit(" (kept "), kept, F.lit(")")),
        ).otherwise(F.col(quality.REASON)),
    )
    assert got.columns == df.columns
    assert sorted(got.collect(), key=repr) == sorted(reference.collect(), key=repr)
    assert got.filter(F.col(quality.REASON).startswith("duplicate")).count() > 100
