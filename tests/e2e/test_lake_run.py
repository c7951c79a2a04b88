"""`covid-pipeline run` on the real data lake sample (data/lake, `make run`'s source), checked against sums
computed here from the raw files; then the CSSE daily reports loaded into the same home, in both orders.

The source is data/lake as the lake itself holds it: Enigma's JHU history gzip-compressed at its lake key
(data/lake keeps it uncompressed), and one dataset under ``archived/`` (the lake keeps older copies there).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench.checksums import differences, table_checksums
from covid_pipeline.feeds import bundled_files
from tests.conftest import ROOT, SAMPLE
from tests.e2e.conftest import ENIGMA, NYT_STATES, run
from tests.helpers import check_dim_region_is_honest

pytestmark = [pytest.mark.slow, pytest.mark.spark]
ERAS = ROOT / "tests" / "data" / "jhu_eras"


def _copy(home: Path, to: Path) -> Path:
    shutil.copytree(home, to)
    return to


def _db(home: Path, tmp: Path) -> duckdb.DuckDBPyConnection:
    """A read-only copy of the home's warehouse (the file stays free for the CLI)."""
    tmp.mkdir(parents=True, exist_ok=True)
    copy = tmp / f"{len(list(tmp.glob('*.duckdb')))}.duckdb"
    shutil.copy(home / "warehouse.duckdb", copy)
    return duckdb.connect(str(copy), read_only=True)


def raw_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a raw object by header name (CSV, gzip or not) or JSON Lines."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig")
    if path.name.endswith(".geojson"):
        yield from (json.loads(line) for line in text.splitlines() if line.strip())
        return
    yield from csv.DictReader(io.StringIO(text, newline=""))


def _number(value: Any) -> float:
    try:
        return float(value) if value not in (None, "") else 0.0
    except ValueError:
        return 0.0


Grouper = Callable[[dict[str, Any]], str]


def raw_sums(path: Path, group: Grouper, columns: dict[str, str]) -> dict[str, dict[str, float]]:
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in raw_rows(path):
        for out, header in columns.items():
            sums[group(row)][out] += _number(row.get(header))
    return sums


def quarantined_sums(db: duckdb.DuckDBPyConnection, feed: str, group: Grouper, columns: dict[str, str]):  # type: ignore[no-untyped-def]
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for reason, record in db.execute("SELECT reason, record FROM quarantine WHERE feed = ?", [feed]).fetchall():
        assert reason.strip(), record
        values = json.loads(record)
        for out, field in columns.items():
            sums[group(values)][out] += _number(values.get(field))
    return sums


def _day(text: str) -> str:
    """yyyymmdd of an ISO date or timestamp, or of CTP's yyyymmdd (the test's own reading, not the pipeline's)."""
    text = str(text)
    return text[:10].replace("-", "") if "-" in text[:10] else text[:8]


FEEDS_CHECKED = [
    # (feed, raw key, raw day of a raw row, day of a staged record, {measure: (raw header, staged column)}, fact query)
    ("enigma_jhu", ENIGMA + ".gz", lambda r: _day(r["last_update"]), lambda r: _day(r["report_date"]),
     {"confirmed": ("confirmed", "confirmed"), "deaths": ("deaths", "deaths")},
     "SELECT date_key, sum(confirmed), sum(deaths) FROM fact_cases_daily WHERE feed = 'enigma_jhu' GROUP BY 1"),
    ("nyt_us_county", "enigma-nytimes-data-in-usa/csv/us_county/us_county.csv", lambda r: _day(r["date"]),
     lambda r: _day(r["date"]), {"cases": ("cases", "cases"), "deaths": ("deaths", "deaths")},
     "SELECT date_key, sum(confirmed), sum(deaths) FROM fact_cases_daily WHERE feed = 'nyt_us_county' GROUP BY 1"),
    ("nyt_us_states", f"archived/{NYT_STATES}", lambda r: _day(r["date"]), lambda r: _day(r["date"]),
     {"cases": ("cases", "cases"), "deaths": ("deaths", "deaths")},
     "SELECT date_key, sum(confirmed), sum(deaths) FROM fact_cases_daily WHERE feed = 'nyt_us_states' GROUP BY 1"),
    ("ctp_states_daily", "rearc-covid-19-testing-data/csv/states_daily/states_daily.csv", lambda r: _day(r["date"]),
     lambda r: _day(r["date"]), {"positive": ("positive", "positive"), "negative": ("negative", "negative")},
     "SELECT date_key, sum(positive), sum(negative) FROM fact_testing_daily WHERE feed = 'ctp_states_daily' "
     "GROUP BY 1"),
    ("ctp_us_daily", "rearc-covid-19-testing-data/csv/us_daily/us_daily.csv", lambda r: _day(r["date"]),
     lambda r: _day(r["date"]), {"positive": ("positive", "positive"), "negative": ("negative", "negative")},
     "SELECT date_key, sum(positive), sum(negative) FROM fact_testing_daily WHERE feed = 'ctp_us_daily' GROUP BY 1"),
    ("ctp_us_latest", "rearc-covid-19-testing-data/csv/us-total-latest/us.csv", lambda r: _day(r["lastModified"]),
     lambda r: _day(r["date"]), {"positive": ("positive", "positive"), "negative": ("negative", "negative")},
     "SELECT date_key, sum(positive), sum(negative) FROM fact_testing_daily WHERE feed = 'ctp_us_latest' GROUP BY 1"),
]  # fmt: skip


@pytest.mark.parametrize("check", FEEDS_CHECKED, ids=[c[0] for c in FEEDS_CHECKED])
def test_totals_per_day_equal_the_raw_files_minus_quarantine(check, lake_source, lake_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    feed, key, raw_day, staged_day, measures, query = check
    db = _db(lake_home[0], tmp_path)
    raw = raw_sums(lake_source / key, raw_day, {m: h for m, (h, _) in measures.items()})
    rejected = quarantined_sums(db, feed, staged_day, {m: c for m, (_, c) in measures.items()})
    loaded = {str(day): dict(zip(measures, values, strict=True)) for day, *values in db.execute(query).fetchall()}
    assert raw
    assert set(loaded) <= set(raw)
    for day, sums in raw.items():
        for measure in measures:
            expected = sums[measure] - rejected[day][measure]
            assert (loaded.get(day, {}).get(measure) or 0) == expected, (feed, day, measure)


def test_every_raw_object_is_audited_rows_read_loaded_plus_quarantined(lake_source, lake_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = _db(lake_home[0], tmp_path)
    audit = {
        uri.split("rawbucket/", 1)[1]: (read, loaded, rejected)
        for uri, read, loaded, rejected in db.execute(
            "SELECT source_object, rows_read, rows_loaded, rows_rejected FROM load_audit"
        ).fetchall()
    }
    raw_keys = {p.relative_to(lake_source).as_posix() for p in lake_source.rglob("*") if p.is_file()}
    assert set(audit) == raw_keys | set(bundled_files())
    quarantined = dict(
        db.execute("SELECT split_part(source_object, 'rawbucket/', 2), count(*) FROM quarantine GROUP BY 1").fetchall()
    )
    for key in raw_keys:
        read, loaded, rejected = audit[key]
        assert read == sum(1 for _ in raw_rows(lake_source / key)), key
        assert read == loaded + rejected, key
        assert rejected == quarantined.get(key, 0), key
    # Each dataset of the lake reached its table.
    counts = dict(
        db.execute(
            "SELECT 'hospitals', count(*) FROM dim_hospital UNION ALL SELECT feed, count(*) FROM fact_cases_daily "
            "GROUP BY feed UNION ALL SELECT feed, count(*) FROM fact_testing_daily GROUP BY feed"
        ).fetchall()
    )
    assert counts == {
        "hospitals": 103,
        "enigma_jhu": audit[ENIGMA + ".gz"][1],
        "nyt_us_county": 1613,
        "nyt_us_states": 2147,
        "ctp_states_daily": 216,
        "ctp_us_daily": 301,
        "ctp_us_latest": 1,
    }
    staffed = sum(
        _number(r["NUM_STAFFED_BEDS"])
        for r in raw_rows(lake_source / "rearc-usa-hospital-beds/json/usa-hospital-beds.geojson")
    )
    assert db.execute("SELECT sum(staffed_beds) FROM dim_hospital").fetchone()[0] == staffed == 15449


def test_facts_sit_at_their_own_grain(lake_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = _db(lake_home[0], tmp_path)
    levels = dict(
        db.execute(
            "SELECT f.feed, string_agg(DISTINCT r.level, ',' ORDER BY r.level) FROM ("
            "SELECT feed, region_key FROM fact_cases_daily UNION ALL SELECT feed, region_key FROM fact_testing_daily"
            ") f JOIN dim_region r USING (region_key) GROUP BY 1"
        ).fetchall()
    )
    assert levels == {
        # Enigma's early rows include the Diamond Princess ("Others"); NYT's counties its New York City and Unknown.
        "enigma_jhu": "country,county,ship,state",
        "nyt_us_county": "city,county,unassigned",
        "nyt_us_states": "state",
        "ctp_states_daily": "state",
        "ctp_us_daily": "country",
        "ctp_us_latest": "country",
    }


def test_dim_region_is_honest(lake_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    per_level = check_dim_region_is_honest(_db(lake_home[0], tmp_path))
    assert per_level == {
        "country": 189, "state": 611, "county": 3227, "city": 2, "county_group": 7, "ship": 6,
        "aggregate": 2, "institution": 12, "unassigned": 123,
    }  # fmt: skip


def test_regions_carry_their_real_state_and_what_stayed_unresolved_is_reported(lake_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home, output = lake_home
    db = _db(home, tmp_path)
    unresolved = sorted(
        db.execute(
            "SELECT country_region || ' / ' || coalesce(province_state, '') || ' / ' || coalesce(county, '') "
            "FROM dim_region WHERE NOT in_lookup"
        ).fetchall()
    )
    # Enigma's early cities (kept below their real state) and NYT's own geographies: kept, flagged.
    assert [u[0] for u in unresolved] == [
        "Canada / Ontario / London",
        "Canada / Ontario / Toronto",
        "US / Arizona / Tempe",
        "US / Illinois / Chicago",
        "US / Massachusetts / Boston",
        "US / New Jersey / Unknown",
        "US / New York / New York City",
        "US / Rhode Island / Unknown",
        "US / Washington / Seattle",
        "US / Wisconsin / Madison",
    ]
    assert f"{len(unresolved)} region(s) outside JHU's lookup" in output
    # Enigma's truncated names ("Hu" for Hunan) reached the lookup's provinces.
    assert db.execute(
        "SELECT count(*) FROM dim_region WHERE country_region = 'China' AND NOT in_lookup"
    ).fetchone() == (0,)


def _csse_source(tmp: Path) -> Path:
    """The CSSE daily reports users upload: data/sample plus real reports of other eras (tests/data/jhu_eras)."""
    source = tmp / "csse"
    shutil.copytree(SAMPLE, source, ignore=shutil.ignore_patterns("SOURCES.md"))
    for path in ERAS.glob("*.csv"):
        shutil.copy(path, source / "enigma-jhu" / "csv" / path.name)
    return source


def test_csse_reports_and_the_lake_in_one_home_give_one_region_per_place_whatever_the_order(
    lake_source: Path, lake_home: tuple[Path, str], tmp_path: Path
) -> None:
    csse = _csse_source(tmp_path)
    lake_first = _copy(lake_home[0], tmp_path / "lake-first")
    run(csse, lake_first)
    csse_first = tmp_path / "csse-first"
    run(csse, csse_first)
    run(lake_source, csse_first)
    one, other = table_checksums(lake_first / "warehouse.duckdb"), table_checksums(csse_first / "warehouse.duckdb")
    assert differences(one, other) == []
    db = _db(lake_first, tmp_path)
    # Both JHU feeds gave 2020-01-22 and 2020-02-01 for the same regions: the CSSE reports win (precedence 0)
    # in both orders; Enigma's history fills the days between.
    by_day = db.execute(
        "SELECT date_key, feed, count(*) FROM fact_cases_daily WHERE source = 'jhu' AND date_key IN "
        "(20200122, 20200123, 20200201) GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert [(d, f) for d, f, _ in by_day] == [(20200122, "jhu_daily"), (20200123, "enigma_jhu"),
                                             (20200201, "jhu_daily")]  # fmt: skip
    hubei = db.execute(
        "SELECT feed, confirmed FROM fact_cases_daily f JOIN dim_region r USING (region_key) "
        "WHERE r.country_region = 'China' AND r.province_state = 'Hubei' AND date_key = 20200201 AND source = 'jhu'"
    ).fetchall()
    assert hubei == [("jhu_daily", 7153)]
    # One region per country across both feeds and every era's names.
    assert (
        db.execute(
            "SELECT lower(country_region), count(*) FROM dim_region WHERE level = 'country' "
            "GROUP BY 1 HAVING count(*) > 1"
        ).fetchall()
        == []
    )
    stale = db.execute(
        "SELECT DISTINCT country_region FROM dim_region WHERE country_region IN ('Mainland China', 'UK', "
        "'Republic of Korea', 'South Korea', 'Iran (Islamic Republic of)', 'Viet Nam', 'Russian Federation', "
        "'Hong Kong SAR', 'Macao SAR', 'Others', 'Cruise Ship', 'Cape Verde', 'East Timor', 'Czech Republic', "
        "'occupied Palestinian territory', 'The Bahamas', 'Bahamas, The', 'The Gambia', 'Gambia, The', "
        "'Republic of Ireland', 'Republic of Moldova', 'Vatican City', 'Taipei and environs')"
    ).fetchall()
    assert stale == []
    assert db.execute(
        "SELECT count(*) FROM dim_region WHERE regexp_matches(province_state, ', [A-Z]{2}\\b')"
    ).fetchone() == (0,)
    # 2020-02-21 writes Lebanon's province as the text "None": the country's own row, no state named None.
    assert db.execute("SELECT count(*) FROM dim_region WHERE province_state = 'None'").fetchone() == (0,)
    assert db.execute(
        "SELECT DISTINCT r.level FROM fact_cases_daily f JOIN dim_region r USING (region_key) "
        "WHERE r.country_region = 'Lebanon' AND f.date_key = 20200221"
    ).fetchall() == [("country",)]
    # 2020-03-08: the US places below the state sum, per state, to what the report says.
    report: dict[str, float] = defaultdict(float)
    codes = {
        r["state_abbr"]: r["state_name"]
        for r in raw_rows(ROOT / "layers/shared/python/covid_pipeline/reference/state_fips_master.csv")
    }
    for row in raw_rows(ERAS / "03-08-2020.csv"):
        match = re.search(r", ([A-Z]{2})$", row["Province/State"].strip())
        if row["Country/Region"] == "US" and match and "Diamond Princess" not in row["Province/State"]:
            report[codes[match.group(1)]] += _number(row["Confirmed"])
    warehouse = dict(
        db.execute(
            "SELECT r.province_state, sum(f.confirmed) FROM fact_cases_daily f JOIN dim_region r USING (region_key) "
            "WHERE f.date_key = 20200308 AND f.source = 'jhu' AND r.country_region = 'US' GROUP BY 1"
        ).fetchall()
    )
    assert len(report) > 10
    assert {state: warehouse.get(state) for state in report} == report
    # The day's other US rows: the two ships, and "Washington, D.C." (an alias of the District).
    assert set(warehouse) - set(report) == {"Diamond Princess", "Grand Princess", "District of Columbia"}


def test_a_history_rewritten_whole_changes_only_the_rows_that_changed(lake_source, lake_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """NYT rewrites its one-file history every day: read again whole, only the changed rows change anything."""
    home = _copy(lake_home[0], tmp_path / "home")
    before = _db(home, tmp_path / "before")
    source = tmp_path / "source"
    shutil.copytree(lake_source, source)
    path = source / "archived" / NYT_STATES
    rows = list(raw_rows(path))
    changed = dict(rows[-1], cases=str(int(rows[-1]["cases"]) + 100))
    new = dict(rows[-1], date="2020-04-11")
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows([*rows[:-1], changed, new])
    proc = run(source, home)
    execution = max((home / "executions").glob("*/execution.json"), key=lambda p: p.stat().st_mtime)
    output = json.loads(execution.read_text())["output"]
    # Only the rewritten object was read (every other one is loaded at its current ETag).
    assert output["objects"] == 1
    changes = output["load"]["result"]["changes"]
    assert changes["fact_cases_daily"] == {"new": 1, "changed": 1, "unchanged": len(rows) - 1, "superseded": 0}
    assert "unchanged" in proc.stderr
    after = _db(home, tmp_path / "after")
    query = "SELECT region_key, date_key, confirmed, new_confirmed FROM fact_cases_daily WHERE feed = 'nyt_us_states'"
    old, now = set(before.execute(query).fetchall()), set(after.execute(query).fetchall())
    # The changed day and the new day; nothing else (the unchanged rows were not even rewritten).
    assert len(now - old) == 2
    assert len(old - now) == 1
