"""build_star: every staged feed in, every table of the warehouse contract out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from covid_pipeline import feeds, schema

from .audit import MANIFEST_SCHEMA, load_audit
from .cases import classify_jhu, classify_nyt, fact_cases_daily, jhu_names, jhu_regions, nyt_names, nyt_regions
from .contract import conform, conform_staged, empty_staged, select_typed
from .dates import dim_date
from .hospitals import classify_hospitals, dim_hospital, hospital_names, hospital_regions, with_state
from .names import build_resolver, resolved_names
from .quality import RECORD, accepted, quarantine, record_json
from .regions import (
    classify_country_codes,
    classify_county_population,
    classify_uid_lookup,
    dim_region,
    uid_candidates,
)
from .states import build_state_lookups, classify_state_abv, classify_state_fips
from .testing import classify_ctp, classify_ctp_us, ctp_regions, ctp_us_regions, fact_testing_daily


def build_star(
    staged: Mapping[str, DataFrame],
    manifest: DataFrame,
    run_id: str,
    started_at: datetime,
) -> dict[str, DataFrame]:
    """Validate every staged row and build each table of schema.TABLES (quarantine included).

    ``staged`` maps feed name (feeds.FEEDS) -> staged rows; a feed without files
    in this run may be absent. ``manifest`` has the columns of audit.MANIFEST_SCHEMA.
    Each returned frame is selected and cast exactly to its table's contract
    columns, in order. A naive ``started_at`` is taken as UTC.
    """
    unknown = sorted(set(staged) - set(feeds.FEEDS))
    if unknown:
        raise ValueError(f"unknown feeds {unknown}; expected some of {sorted(feeds.FEEDS)}")
    spark = manifest.sparkSession
    frames = {
        name: conform_staged(staged[name], feed) if name in staged else empty_staged(spark, feed)
        for name, feed in feeds.FEEDS.items()
    }

    # Classified frames feed several tables (facts, regions, quarantine, audit): cached
    # so each Parquet write does not re-read and re-validate the staged data. The cache
    # leaves out the record (the staged row as JSON, the widest column): with it, the
    # full-history JHU frame outgrew the executor's memory, went to disk and was re-read
    # by every table. Where a table needs the record, with_record derives the same text.
    uid = classify_uid_lookup(frames["uid_lookup"]).drop(RECORD).cache()
    state_fips = classify_state_fips(frames["state_fips"]).drop(RECORD).cache()
    state_abv = classify_state_abv(frames["state_abv"]).drop(RECORD).cache()
    lookups = build_state_lookups(accepted(state_fips), accepted(uid), accepted(state_abv))
    # Region names as written -> the lookup's regions: every distinct name of the run resolved once, on the
    # driver (one collect of the staged lookups, one of the names).
    resolver = build_resolver(frames["uid_lookup"], [frames["state_fips"], frames["state_abv"]])
    names = resolved_names(
        resolver,
        [
            jhu_names(frames["jhu_daily"]),
            jhu_names(frames["enigma_jhu"]),
            nyt_names(frames["nyt_us_county"]),
            nyt_names(frames["nyt_us_states"]),
            hospital_names(with_state(frames["hospital_beds"], lookups)),
        ],
    ).cache()
    stored: dict[str, DataFrame] = {
        "jhu_daily": classify_jhu(frames["jhu_daily"], names).drop(RECORD).cache(),
        "enigma_jhu": classify_jhu(frames["enigma_jhu"], names, feeds.ENIGMA_JHU).drop(RECORD).cache(),
        "ctp_states_daily": classify_ctp(frames["ctp_states_daily"], lookups).drop(RECORD).cache(),
        "ctp_us_daily": classify_ctp_us(frames["ctp_us_daily"], feeds.CTP_US_DAILY).drop(RECORD).cache(),
        "ctp_us_latest": classify_ctp_us(frames["ctp_us_latest"], feeds.CTP_US_LATEST).drop(RECORD).cache(),
        "nyt_us_county": classify_nyt(frames["nyt_us_county"], names).drop(RECORD).cache(),
        "nyt_us_states": classify_nyt(frames["nyt_us_states"], names, feeds.NYT_US_STATES).drop(RECORD).cache(),
        "hospital_beds": classify_hospitals(frames["hospital_beds"], lookups, names).drop(RECORD).cache(),
        "state_abv": state_abv,
        "county_population": classify_county_population(frames["county_population"]).drop(RECORD).cache(),
        "country_codes": classify_country_codes(frames["country_codes"]).drop(RECORD).cache(),
        "uid_lookup": uid,
        "state_fips": state_fips,
    }
    missing = sorted(set(feeds.FEEDS) - set(stored))
    if missing:
        raise ValueError(f"build_star classifies no rows of feeds {missing}")
    classified = {name: with_record(df, feeds.FEEDS[name]) for name, df in stored.items()}
    ok = {name: accepted(df) for name, df in stored.items()}

    cases = fact_cases_daily(ok["jhu_daily"], ok["nyt_us_county"], ok["enigma_jhu"], ok["nyt_us_states"])
    testing = fact_testing_daily(ok["ctp_states_daily"], ok["ctp_us_daily"], ok["ctp_us_latest"])
    # dim_region takes a lookup region's attributes from the lookup alone: the other feeds'
    # rows of those regions are dropped before their records are built (at full scale,
    # all but a few thousand of 7 M rows).
    lookup_keys = F.broadcast(ok["uid_lookup"].select("region_key"))

    def candidate_rows(name: str) -> DataFrame:
        rows = ok[name] if name == "uid_lookup" else ok[name].join(lookup_keys, on="region_key", how="left_anti")
        return with_record(rows, feeds.FEEDS[name])

    regions = dim_region(
        [
            uid_candidates(candidate_rows("uid_lookup")),
            jhu_regions(candidate_rows("jhu_daily"), names),
            jhu_regions(candidate_rows("enigma_jhu"), names, feeds.ENIGMA_JHU),
            nyt_regions(candidate_rows("nyt_us_county"), names),
            nyt_regions(candidate_rows("nyt_us_states"), names),
            ctp_regions(candidate_rows("ctp_states_daily")),
            ctp_us_regions(candidate_rows("ctp_us_daily")),
            ctp_us_regions(candidate_rows("ctp_us_latest")),
            hospital_regions(candidate_rows("hospital_beds"), names),
        ],
        lookups,
        ok["county_population"],
        ok["country_codes"],
    )
    rejected = quarantine(classified, run_id)
    started = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
    tables = {
        "dim_date": dim_date(cases, testing),
        "dim_region": regions,
        "dim_hospital": dim_hospital(ok["hospital_beds"]),
        "fact_cases_daily": cases,
        "fact_testing_daily": testing,
        "load_audit": load_audit(classified, rejected, conform_manifest(manifest), run_id, started),
        "quarantine": rejected,
    }
    return {name: conform(tables[name], table) for name, table in schema.TABLES.items()}


def with_record(df: DataFrame, feed: feeds.Feed) -> DataFrame:
    """``df`` (staged columns of ``feed`` among others) with its ``_record``, as quality.classify built it."""
    return df.withColumn(RECORD, record_json(feed))


def conform_manifest(manifest: DataFrame) -> DataFrame:
    """The manifest's columns of MANIFEST_SCHEMA, typed (a missing column becomes null)."""
    return select_typed(manifest, [(f.name, f.dataType) for f in MANIFEST_SCHEMA.fields])
