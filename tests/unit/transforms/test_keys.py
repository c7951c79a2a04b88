"""The Spark key expressions give exactly what covid_pipeline.keys gives."""

from __future__ import annotations

import re
import sys
from datetime import date

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from covid_pipeline import keys as py_keys
from covid_transforms import keys

NAMES = [
    None,
    "",
    "   ",
    "US",
    "United States",
    " Mainland  China ",
    "Korea, South",
    "South Korea",
    "Taiwan",
    "UK",
    "New\tYork\u00a0City",
    "\u2003Curaçao\u3000",
    "Mayagüez",
    "ΣΊΣΥΦΟΣ",
    "İstanbul",
    "Côte d'Ivoire",
    "a\x1cb\x85c\u2028d",
    "Straße",
]

pytestmark = pytest.mark.spark


def test_whitespace_class_is_pythons() -> None:
    ours = {c for c in range(sys.maxunicode + 1) if re.fullmatch(keys.PY_WHITESPACE_CLASS, chr(c))}
    python = {c for c in range(sys.maxunicode + 1) if re.fullmatch(r"\s", chr(c))}
    assert ours == python


def test_region_key_and_normalisation_match_python(spark: SparkSession) -> None:
    triples = [(a, b, c) for a in NAMES for b in NAMES[:6] + NAMES[10:] for c in (None, "Ada", "\u2003Ada ")]
    schema = T.StructType([T.StructField(n, T.StringType()) for n in ("country", "state", "county")])
    df = spark.createDataFrame(triples, schema)
    rows = df.select(
        "country",
        "state",
        "county",
        keys.normalise_part(F.col("country")).alias("part"),
        keys.normalise_country(F.col("country")).alias("country_norm"),
        keys.region_key(F.col("country"), F.col("state"), F.col("county")).alias("key"),
        keys.region_level(F.col("state"), F.col("county")).alias("level"),
    ).collect()
    assert len(rows) == len(triples)
    for r in rows:
        assert r.part == py_keys.normalise_part(r.country), r
        assert r.country_norm == py_keys.normalise_country(r.country), r
        assert r.key == py_keys.region_key(r.country, r.state, r.county), r
        assert r.level == py_keys.region_level(r.state, r.county), r


def test_hospital_key_and_date_key_match_python(spark: SparkSession) -> None:
    rows = [
        ("NY", "14224", "Western New York Childrens Psychiatric Center", "1010 East And West Rd", date(2020, 1, 2)),
        (" pr", "00969", "Professional Hospital - Guaynabo", None, date(2021, 12, 31)),
        (None, None, "Hospital San Antonio", "Calle Dr Ramón Emeterio Betances", None),
    ]
    df = spark.createDataFrame(rows, "state string, zip string, name string, address string, d date")
    got = df.select(
        "*",
        keys.hospital_key(F.col("state"), F.col("zip"), F.col("name"), F.col("address")).alias("hk"),
        keys.date_key(F.col("d")).alias("dk"),
    ).collect()
    for r in got:
        assert r.hk == py_keys.hospital_key(r.state, r.zip, r.name, r.address)
        assert r.dk == (py_keys.date_key(r.d.year, r.d.month, r.d.day) if r.d else None)


FIPS_CASES = [
    # raw, level, invalid, normalised
    ("1001", "county", False, "01001"),
    ("1001.0", "county", False, "01001"),  # JHU writes some codes as floats
    (" 45001 ", "county", False, "45001"),
    ("01", "state", False, "01"),
    ("1", "state", False, "01"),
    ("00001", "state", False, "01"),  # JHU's lookup pads state codes to 5
    ("88888", "state", False, "88888"),  # JHU pseudo code: kept, not truncated
    ("250", "country", False, None),  # a country has no FIPS
    ("", "county", False, None),
    (None, "county", False, None),
    ("123456", "county", True, None),
    ("12a", "county", True, None),
    ("1001.5", "county", True, None),
    ("-1", "state", True, None),
    ("\uff11\uff12", "state", True, None),  # full-width digits are not ASCII digits
]


def test_fips(spark: SparkSession) -> None:
    df = spark.createDataFrame([c[:2] for c in FIPS_CASES], "fips string, level string")
    got = df.select(
        "fips",
        "level",
        keys.fips_is_invalid(F.col("fips")).alias("invalid"),
        keys.fips_for_level(F.col("fips"), F.col("level")).alias("norm"),
    ).collect()
    assert sorted(map(tuple, got), key=repr) == sorted(FIPS_CASES, key=repr)
    # A level fixed for every row gives the same codes.
    fixed = df.select(
        keys.fips_for_level(F.col("fips"), keys.LEVEL_STATE).alias("state"),
        keys.fips_for_level(F.col("fips"), keys.LEVEL_COUNTY).alias("county"),
        keys.fips_for_level(F.col("fips"), F.lit(keys.LEVEL_STATE)).alias("state_by_column"),
        keys.fips_for_level(F.col("fips"), F.lit(keys.LEVEL_COUNTY)).alias("county_by_column"),
    ).collect()
    assert all(r.state == r.state_by_column and r.county == r.county_by_column for r in fixed)


def test_zip5(spark: SparkSession) -> None:
    cases = {"969": "00969", "6001": "06001", "14224": "14224", " 2134.0 ": "02134", "12345-6789": "12345-6789"}
    cases |= {"": None, None: None}
    df = spark.createDataFrame([(k,) for k in cases], "zip string")
    got = {r.zip: r.z for r in df.select("zip", keys.zip5(F.col("zip")).alias("z")).collect()}
    assert got == cases


def test_whitespace_chars_are_the_class() -> None:
    python = {chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch(r"\s", chr(c))}
    assert set(keys.PY_WHITESPACE_CHARS) == python
    assert len(keys.PY_WHITESPACE_CHARS) == len(python)


def test_strip_and_is_blank_match_python(spark: SparkSession) -> None:
    values = [*NAMES, "\u3000", "\t\n", " a ", "a\u2028", "\x85x\x85", "1001.0 ", "\u00a0"]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    got = df.select("v", keys.strip(F.col("v")).alias("s"), keys.is_blank(F.col("v")).alias("b")).collect()
    assert len(got) == len(values)
    for r in got:
        assert r.s == (None if r.v is None else r.v.strip()), r
        assert r.b == (r.v is None or r.v.strip() == ""), r
