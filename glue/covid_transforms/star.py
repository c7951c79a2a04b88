"""build_star: every staged feed in, every table of the warehouse contract out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from covid_pipeline import feeds, schema

from .audit import MANIFEST_SCHEMA, load_audit
from .cases import classify_jhu, classify_nyt, fact_cases_daily, jhu_names, jhu_regions, nyt_names, nyt_regions
from .contract import conform, conform_staged, empty_staged, empty_table, select_typed
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
    built = feeds_to_build(staged)
    frames = {
        name: conform_staged(staged[name], feed) if name in staged else empty_staged(spark, feed)
        for name, feed in feeds.FEEDS.items()
        if name in built
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
    written: dict[str, Callable[[DataFrame], DataFrame]] = {
        "jhu_daily": jhu_names,
        "enigma_jhu": jhu_names,
        "nyt_us_county": nyt_names,
        "nyt_us_states": nyt_names,
        "hospital_beds": lambda df: hospital_names(with_state(df, lookups)),
    }
    sources = [source(frames[name]) for name, source in written.items() if name in frames]
    names = resolved_names(resolver, sources, spark).cache()
    classifiers: dict[str, Callable[[DataFrame], DataFrame]] = {
        "jhu_daily": lambda df: classify_jhu(df, names),
        "enigma_jhu": lambda df: classify_jhu(df, names, feeds.ENIGMA_JHU),
        "ctp_states_daily": lambda df: classify_ctp(df, lookups),
        "ctp_us_daily": lambda df: classify_ctp_us(df, feeds.CTP_US_DAILY),
        "ctp_us_latest": lambda df: classify_ctp_us(df, feeds.CTP_US_LATEST),
        "nyt_us_county": lambda df: classify_nyt(df, names),
        "nyt_us_states": lambda df: classify_nyt(df, names, feeds.NYT_US_STATES),
        "hospital_beds": lambda df: classify_hospitals(df, lookups, names),
        "county_population": classify_county_population,
        "country_codes": classify_country_codes,
    }
    stored: dict[str, DataFrame] = {
        name: classify(frames[name]).drop(RECORD).cache() for name, classify in classifiers.items() if name in frames
    } | {"state_abv": state_abv, "uid_lookup": uid, "state_fips": state_fips}
    missing = sorted(built - set(stored))
    if missing:
        raise ValueError(f"build_star classifies no rows of feeds {missing}")
    ok = {name: accepted(df) for name, df in stored.items()}

    # A table none of whose feeds has staged files is empty: its contract's columns, no plan of any feed.
    cases = (
        fact_cases_daily(ok.get("jhu_daily"), ok.get("nyt_us_county"), ok.get("enigma_jhu"), ok.get("nyt_us_states"))
        if built.intersection(_CASES_FEEDS)
        else empty_table(spark, schema.FACT_CASES_DAILY)
    )
    testing = (
        fact_testing_daily(ok.get("ctp_states_daily"), ok.get("ctp_us_daily"), ok.get("ctp_us_latest"))
        if built.intersection(_TESTING_FEEDS)
        else empty_table(spark, schema.FACT_TESTING_DAILY)
    )
    hospitals = dim_hospital(ok["hospital_beds"]) if "hospital_beds" in ok else empty_table(spark, schema.DIM_HOSPITAL)
    # dim_region takes a lookup region's attributes from the lookup alone: the other feeds'
    # rows of those regions are dropped before their records are built (at full scale,
    # all but a few thousand of 7 M rows).
    lookup_keys = F.broadcast(ok["uid_lookup"].select("region_key"))

    def candidate_rows(name: str) -> DataFrame:
        rows = ok[name] if name == "uid_lookup" else ok[name].join(lookup_keys, on="region_key", how="left_anti")
        return with_record(rows, feeds.FEEDS[name])

    candidates: dict[str, Callable[[DataFrame], DataFrame]] = {
        "uid_lookup": uid_candidates,
        "jhu_daily": lambda rows: jhu_regions(rows, names),
        "enigma_jhu": lambda rows: jhu_regions(rows, names, feeds.ENIGMA_JHU),
        "nyt_us_county": lambda rows: nyt_regions(rows, names),
        "nyt_us_states": lambda rows: nyt_regions(rows, names),
        "ctp_states_daily": ctp_regions,
        "ctp_us_daily": ctp_us_regions,
        "ctp_us_latest": ctp_us_regions,
        "hospital_beds": lambda rows: hospital_regions(rows, names),
    }
    regions = dim_region(
        [make(candidate_rows(name)) for name, make in candidates.items() if name in ok],
        lookups,
        ok.get("county_population"),
        ok.get("country_codes"),
    )
    # The quarantine derives the record of its rejected rows; load_audit reads only the source object.
    rejected = quarantine(stored, run_id)
    started = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
    tables = {
        "dim_date": dim_date(cases, testing),
        "dim_region": regions,
        "dim_hospital": hospitals,
        "fact_cases_daily": cases,
        "fact_testing_daily": testing,
        "load_audit": load_audit(stored, rejected, conform_manifest(manifest), run_id, started),
        "quarantine": rejected,
    }
    return {name: conform(tables[name], table) for name, table in schema.TABLES.items()}


# The feeds each table of facts is built from: a run with files of none of them still builds the first
# (empty), so the table keeps its shape. dim_hospital has one feed; the state lookups feed every run.
_CASES_FEEDS = frozenset({"jhu_daily", "nyt_us_county", "enigma_jhu", "nyt_us_states"})
_TESTING_FEEDS = frozenset({"ctp_states_daily", "ctp_us_daily", "ctp_us_latest"})
# The lookups every run stages: region names resolve through them, whatever feed a run brings.
_ALWAYS_BUILT = frozenset({"uid_lookup", "state_fips", "state_abv"})


def feeds_to_build(staged: Mapping[str, DataFrame]) -> set[str]:
    """The feeds whose frames build_star builds: those staged, and the lookups names resolve through.

    A feed without staged files adds no row to any table, so it is left out of every plan (no
    validation, no cache, no branch of the unions), and a table none of whose feeds has files is
    an empty frame of its contract: a day's upload stages one JHU report and the lookups, and the
    plans of the other feeds, empty, took longer than its data.
    """
    return set(staged) | _ALWAYS_BUILT


def with_record(df: DataFrame, feed: feeds.Feed) -> DataFrame:
    """``df`` (staged columns of ``feed`` among others) with its ``_record``, as quality.classify built it."""
    return df.withColumn(RECORD, record_json(feed))


def conform_manifest(manifest: DataFrame) -> DataFrame:
    """The manifest's columns of MANIFEST_SCHEMA, typed (a missing column becomes null)."""
    return select_typed(manifest, [(f.name, f.dataType) for f in MANIFEST_SCHEMA.fields])
