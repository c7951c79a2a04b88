"""Hostile input (issue #4 item 5): every bad file or row ends as a quarantined row with its reason, or as a
refusal of the whole object with its reason in the execution output and the alert - and nothing else changes.

One execution (the state machine, the real handlers, Clean on Spark) reads every hostile file at once, on a
copy of a home where the bundled sample was loaded; each test then checks one kind of hostile input. The
1 GB file and the CLI's refusal of a ``../`` prefix need no Spark: they run Setup/crawl/Stage or the CLI only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from covid_pipeline.feeds import REFERENCE_FEEDS
from covid_pipeline.runner.local import LocalPipeline, local_settings
from covid_pipeline.schema import TABLES
from tests.helpers import invoke
from tests.reliability.conftest import cli
from tests.reliability.emf import assert_figures_match_the_warehouse

NYT = "enigma-nytimes-data-in-usa/csv/us_county/"
JHU = "enigma-jhu/csv/"
NYT_HEADER = "date,county,state,fips,cases,deaths\n"
JHU_HEADER = (
    "FIPS,Admin2,Province_State,Country_Region,Last_Update,Lat,Long_,Confirmed,Deaths,Recovered,Active,Combined_Key\n"
)
RUN = "hostile-input"

# Names that must reach the warehouse exactly as written (CSV-quoted where they hold a quote or a comma).
NAMES = {
    '"O\'Brien; DROP TABLE fact_cases_daily;--"': "O'Brien; DROP TABLE fact_cases_daily;--",
    '"Doña ""Ana"" County"': 'Doña "Ana" County',
    "Mayagüez ñ 🦠 東京": "Mayagüez ñ 🦠 東京",
    '"Robert\'); DELETE FROM dim_region; --"': "Robert'); DELETE FROM dim_region; --",
    '"Semi;colon, comma \\N NULL"': "Semi;colon, comma \\N NULL",
}


def _nyt(*rows: str) -> bytes:
    return (NYT_HEADER + "".join(row + "\n" for row in rows)).encode()


# key (relative to the raw bucket) -> content. Every county name is unique to its file.
FILES: dict[str, bytes] = {
    NYT + "ragged-more.csv": _nyt(
        "2020-04-01,Ragged Fine,Alabama,,5,1",
        "2020-04-01,Ragged Long,Alabama,,5,1,7,extra",
    ),
    NYT + "ragged-fewer.csv": _nyt(
        "2020-04-01,Ragged Fine Too,Alabama,,5,1",
        "2020-04-01,Ragged Short,Alabama,,5",
    ),
    NYT + "unterminated-quote.csv": _nyt(
        "2020-04-01,Quote Before,Alabama,,5,1",
        '2020-04-01,"Quote Open,Alabama,,5,1',
        "2020-04-01,Quote After,Alabama,,5,1",
    ),
    NYT + "latin-1.csv": NYT_HEADER.encode()
    + "2020-04-01,Bogotá,Alabama,,5,1\n".encode("latin-1")
    + b"2020-04-01,Latin Fine,Alabama,,5,1\n",
    NYT + "empty.csv": b"",
    NYT + "header-only.csv": NYT_HEADER.encode(),
    NYT + "unknown-column.csv": b"date,county,state,fips,cases,deaths,vaccinated\n"
    b"2020-04-01,Extra Column,Alabama,,5,1,12\n",
    # A repeated column name and a blank one (a trailing comma): the first "cases" is the count.
    NYT + "repeated-header.csv": b"date,county,state,fips,cases,deaths,cases,\n"
    b"2020-04-01,Repeated Header,Alabama,,5,1,999,\n",
    NYT + "missing-column.csv": b"date,county,state,fips,cases\n2020-04-01,Missing Column,Alabama,,5\n",
    NYT + "duplicates.csv": _nyt(
        "2020-04-01,Dup County,Alabama,,5,1",
        "2020-04-01,Dup County,Alabama,,5,1",
        "2020-04-01,Dup County,Alabama,,6,1",
    ),
    NYT + "bad-counts.csv": _nyt(
        "2020-04-01,Negative County,Alabama,,-5,1",
        "2020-04-01,Text County,Alabama,,many,1",
        "2020-04-01,Fraction County,Alabama,,1.5,0",
        "2020-04-01,Count Fine,Alabama,,5,1",
    ),
    NYT + "bad-dates.csv": _nyt(
        "2020-02-30,Feb Thirty,Alabama,,5,1",
        "2020-13-01,Month Thirteen,Alabama,,5,1",
        "2020-04-01,Date Fine,Alabama,,5,1",
    ),
    JHU + "13-45-2020.csv": (
        JHU_HEADER + '01001,Impossible Date,Alabama,US,2020-04-12 23:18:00,32.5,-86.6,12,0,0,12,"x, Alabama, US"\n'
    ).encode(),
    NYT + "bad-fips.csv": _nyt(
        "2020-04-01,Letters Fips,Alabama,ABCDE,5,1",
        "2020-04-01,Six Digit Fips,Alabama,123456,5,1",
        "2020-04-01,Unknown Fips,Alabama,99998,5,1",
    ),
    NYT + "names with 'quotes'; and spaces.csv": _nyt(*(f"2020-04-01,{raw},Alabama,,5,1" for raw in NAMES)),
    # DuckDB would read "glob[1].csv" as the pattern glob?.csv, i.e. glob1.csv: each must read itself.
    NYT + "glob[1].csv": _nyt("2020-04-01,Glob Bracket,Alabama,,5,1"),
    NYT + "glob1.csv": _nyt("2020-04-01,Glob Plain,Alabama,,5,1"),
}
# Keys that try to leave their prefix: never opened, refused by Setup.
ESCAPING_KEYS = (
    NYT + "../../../../outside.csv",
    NYT + "../us_county/us-counties.csv",
    "enigma-nytimes-data-in-usa/csv//us_county/us-counties.csv",  # an alias of the key without "//"
)


def _checksum(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(repr(sorted(rows, key=repr)).encode()).hexdigest()


def _tables(db: Path) -> dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]:
    """Every warehouse table as {key: row}, load-time columns left out (they are the load's clock)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for name, table in TABLES.items():
            cols = [c.name for c in table.columns if c.name not in table.load_time_columns]
            key_at = [cols.index(k) for k in table.key]
            rows = con.execute(f"SELECT {', '.join(cols)} FROM {name}").fetchall()
            out[name] = {tuple(row[i] for i in key_at): row for row in rows}
        return out
    finally:
        con.close()


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@dataclass
class Outcome:
    home: Path
    record: dict[str, Any]
    before: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]
    after: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]
    raw_before: dict[str, str]
    raw_after: dict[str, str]
    alert: str
    raw_uri: str
    crawler: dict[str, Any]
    refused_path: Path

    @property
    def output(self) -> dict[str, Any]:
        return self.record["output"]

    def uri(self, key: str) -> str:
        return self.raw_uri + key

    def quarantined(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        """(reason, record) of each quarantined row of the object, in record order."""
        rows = [r for r in self.after["quarantine"].values() if r[3] == self.uri(key)]
        return sorted(((r[4], json.loads(r[5])) for r in rows), key=lambda rr: json.dumps(rr[1], sort_keys=True))

    def facts(self, key: str) -> list[tuple[Any, ...]]:
        return [r for r in self.after["fact_cases_daily"].values() if r[-1] == self.uri(key)]

    def counties(self, key: str) -> set[str]:
        """The counties of the object's loaded facts (through dim_region)."""
        regions = {r[0] for r in self.facts(key)}
        return {row[4] for k, row in self.after["dim_region"].items() if k[0] in regions}

    def refusal(self, key: str) -> str:
        """The Stage refusal of the object, as the execution output lists it."""
        (line,) = [r for r in self.output["stage"]["refusals"] if r.startswith(self.uri(key) + ": ")]
        return line[len(self.uri(key)) + 2 :]

    def audit(self, key: str) -> tuple[int, int, int]:
        (row,) = [r for r in self.after["load_audit"].values() if r[0] == RUN and r[1] == self.uri(key)]
        return row[5], row[6], row[7]  # rows_read, rows_loaded, rows_rejected


@pytest.fixture(scope="module")
def outcome(sample_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    home = tmp_path_factory.mktemp("hostile") / "home"
    shutil.copytree(sample_home, home)
    pipeline = LocalPipeline(home)
    settings = local_settings(pipeline)
    raw_root = home / "s3" / settings.raw_bucket
    before = _tables(home / "warehouse.duckdb")
    for key, content in FILES.items():  # what an upload puts into the raw zone
        path = raw_root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    raw_before = _digest(raw_root)
    alerts = home / "notifications.jsonl"
    alerts_before = alerts.read_text().count("\n")
    objects = [{"key": key, "etag": ""} for key in [*FILES, *ESCAPING_KEYS]]
    record = pipeline.execute({"objects": objects, "bucket": settings.raw_bucket}, name=RUN)
    assert record.status == "SUCCEEDED", record.reason
    new_alerts = alerts.read_text().splitlines()[alerts_before:]
    assert len(new_alerts) == 1
    return Outcome(
        home=home,
        record=json.loads((home / "executions" / RUN / "execution.json").read_text()),
        before=before,
        after=_tables(home / "warehouse.duckdb"),
        raw_before=raw_before,
        raw_after=_digest(raw_root),
        alert=json.loads(new_alerts[0])["message"],
        raw_uri=settings.raw_uri,
        crawler=json.loads((home / "catalog" / "_crawlers" / f"{settings.raw_crawler}.json").read_text()),
        refused_path=home / "s3" / settings.lake_bucket / "quarantine" / "_refused" / f"{RUN}.jsonl",
    )


# -- malformed CSV -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.spark
def test_a_row_with_more_fields_than_the_header_is_quarantined_not_shifted(outcome: Outcome) -> None:
    key = NYT + "ragged-more.csv"
    ((reason, record),) = outcome.quarantined(key)
    assert reason == "malformed row: more than 6 fields, header has 6"
    assert record["county"] == "Ragged Long"
    assert outcome.counties(key) == {"Ragged Fine"}
    assert outcome.audit(key) == (2, 1, 1)


@pytest.mark.slow
@pytest.mark.spark
def test_a_row_with_fewer_fields_than_the_columns_read_is_quarantined(outcome: Outcome) -> None:
    key = NYT + "ragged-fewer.csv"
    ((reason, record),) = outcome.quarantined(key)
    assert reason == "malformed row: 5 fields, header has 6"
    assert record["county"] == "Ragged Short"
    assert record["deaths"] is None
    assert outcome.counties(key) == {"Ragged Fine Too"}


@pytest.mark.slow
@pytest.mark.spark
def test_an_unterminated_quote_quarantines_the_row_with_the_lines_it_swallowed(outcome: Outcome) -> None:
    key = NYT + "unterminated-quote.csv"
    ((reason, record),) = outcome.quarantined(key)
    assert reason == "malformed row: the value of 'county' spans 2 lines (unterminated quote?)"
    # Nothing is lost silently: the swallowed line is in the quarantined record.
    assert record["county"] == "Quote Open,Alabama,,5,1\n2020-04-01,Quote After,Alabama,,5,1"
    assert outcome.counties(key) == {"Quote Before"}


@pytest.mark.slow
@pytest.mark.spark
def test_bytes_that_are_not_utf8_quarantine_their_row(outcome: Outcome) -> None:
    key = NYT + "latin-1.csv"
    ((reason, record),) = outcome.quarantined(key)
    assert reason == "unparseable value: county=Bogot\ufffd (not valid UTF-8)"
    assert record["county"] == "Bogot\ufffd"
    assert outcome.counties(key) == {"Latin Fine"}


# -- headers and whole objects -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.spark
def test_an_empty_object_is_refused_whole_with_the_reason_in_the_output_and_the_alert(outcome: Outcome) -> None:
    key = NYT + "empty.csv"
    assert outcome.refusal(key) == "not in the catalog: the crawler did not classify it"
    assert outcome.crawler["unreadable"][outcome.uri(key)] == "empty object (0 bytes)"
    assert outcome.uri(key) in outcome.alert
    assert not outcome.quarantined(key)
    assert outcome.audit(key) == (0, 0, 0)  # audited as read, with nothing in it


@pytest.mark.slow
@pytest.mark.spark
def test_a_header_only_object_is_refused_whole(outcome: Outcome) -> None:
    key = NYT + "header-only.csv"
    assert outcome.refusal(key) == "not in the catalog: the crawler did not classify it"
    assert outcome.crawler["unreadable"][outcome.uri(key)] == "header only: no data rows"
    assert outcome.uri(key) in outcome.alert


@pytest.mark.slow
@pytest.mark.spark
def test_an_unknown_extra_column_is_reported_and_not_fatal(outcome: Outcome) -> None:
    key = NYT + "unknown-column.csv"
    unmapped = outcome.output["stage"]["unmapped_columns"]
    assert ["vaccinated"] in unmapped.values()
    assert outcome.counties(key) == {"Extra Column"}
    assert outcome.audit(key) == (1, 1, 0)


@pytest.mark.slow
@pytest.mark.spark
def test_a_repeated_or_blank_header_name_is_reported_and_the_first_column_of_a_name_read(outcome: Outcome) -> None:
    key = NYT + "repeated-header.csv"
    assert ["cases_2", "col8"] in outcome.output["stage"]["unmapped_columns"].values()
    assert outcome.counties(key) == {"Repeated Header"}
    (fact,) = outcome.facts(key)
    assert fact[3] == 5


@pytest.mark.slow
@pytest.mark.spark
def test_a_missing_required_column_refuses_the_object_whole(outcome: Outcome) -> None:
    key = NYT + "missing-column.csv"
    assert outcome.refusal(key) == "missing required column(s): deaths"
    assert outcome.uri(key) in outcome.alert
    assert not outcome.facts(key)
    assert not outcome.quarantined(key)
    assert outcome.audit(key) == (0, 0, 0)


@pytest.mark.slow
@pytest.mark.spark
def test_the_list_of_refused_objects_survives_the_run(outcome: Outcome) -> None:
    lines = [json.loads(line) for line in outcome.refused_path.read_text().splitlines()]
    assert {r["object"] for r in lines} == {
        outcome.uri(NYT + n) for n in ("missing-column.csv", "empty.csv", "header-only.csv")
    }


# -- values --------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.spark
def test_duplicate_rows_keep_one_and_quarantine_the_others(outcome: Outcome) -> None:
    key = NYT + "duplicates.csv"
    rows = outcome.quarantined(key)
    assert len(rows) == 2
    assert all(reason.startswith("duplicate key: region_key=") for reason, _ in rows)
    assert all("(country_region=us, province_state=" in reason for reason, _ in rows)
    # Kept: the smallest record text, i.e. the 5 cases row; the byte-identical copy and the 6 are quarantined.
    assert sorted(record["cases"] for _, record in rows) == [5, 6]
    (fact,) = outcome.facts(key)
    assert fact[3] == 5
    # Two identical rows: still two quarantine rows with distinct ids.
    assert len({r[0] for r in outcome.after["quarantine"].values() if r[3] == outcome.uri(key)}) == 2


@pytest.mark.slow
@pytest.mark.spark
def test_the_runs_metrics_count_every_rejected_row_per_dataset(outcome: Outcome) -> None:
    # RowsRejected per dataset (Load's EMF records in <home>/logs/metrics.jsonl) = load_audit = quarantine.
    assert assert_figures_match_the_warehouse(outcome.home, RUN) > 0


@pytest.mark.slow
@pytest.mark.spark
def test_negative_and_non_numeric_counts_are_quarantined(outcome: Outcome) -> None:
    key = NYT + "bad-counts.csv"
    reasons = {record["county"]: reason for reason, record in outcome.quarantined(key)}
    assert reasons == {
        "Negative County": "negative count: cases=-5",
        "Text County": "unparseable value: cases=many",
        "Fraction County": "unparseable value: cases=1.5",
    }
    assert outcome.counties(key) == {"Count Fine"}


@pytest.mark.slow
@pytest.mark.spark
def test_impossible_dates_in_a_row_are_quarantined(outcome: Outcome) -> None:
    key = NYT + "bad-dates.csv"
    reasons = {record["county"]: reason for reason, record in outcome.quarantined(key)}
    assert reasons == {
        "Feb Thirty": "unparseable value: date=2020-02-30",
        "Month Thirteen": "unparseable value: date=2020-13-01",
    }
    assert outcome.counties(key) == {"Date Fine"}


@pytest.mark.slow
@pytest.mark.spark
def test_an_impossible_date_in_a_jhu_file_name_quarantines_its_rows(outcome: Outcome) -> None:
    key = JHU + "13-45-2020.csv"
    ((reason, record),) = outcome.quarantined(key)
    assert reason == "unparseable value: report_date=13-45-2020 (in the object key)"
    assert record["admin2"] == "Impossible Date"
    assert not outcome.facts(key)


@pytest.mark.slow
@pytest.mark.spark
def test_malformed_fips_are_quarantined_and_unknown_well_formed_fips_kept(outcome: Outcome) -> None:
    key = NYT + "bad-fips.csv"
    reasons = {record["county"]: reason for reason, record in outcome.quarantined(key)}
    assert reasons == {"Letters Fips": "invalid fips: 'ABCDE'", "Six Digit Fips": "invalid fips: '123456'"}
    # 5 digits no lookup knows: kept as given (real feeds use such codes: JHU 99999, 88888, 900xx "Unassigned").
    assert outcome.counties(key) == {"Unknown Fips"}
    (region,) = [r for r in outcome.after["dim_region"].values() if r[4] == "Unknown Fips"]
    assert region[5] == "99998"


@pytest.mark.slow
@pytest.mark.spark
def test_names_with_quotes_semicolons_and_unicode_load_intact(outcome: Outcome) -> None:
    key = NYT + "names with 'quotes'; and spaces.csv"
    assert not outcome.quarantined(key)
    assert outcome.counties(key) == set(NAMES.values())
    assert outcome.audit(key) == (len(NAMES), len(NAMES), 0)


# -- object keys ---------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.spark
def test_keys_escaping_their_prefix_are_refused_and_never_opened(outcome: Outcome) -> None:
    refused = {r["key"]: r["reason"] for r in outcome.output["refused"]}
    for key in ESCAPING_KEYS:
        reason = "empty path segment" if "//" in key else "it would escape its prefix"
        assert refused[key] == f"refusing object key {key!r}: {reason}"
        assert key in outcome.alert
    assert not (outcome.home / "s3" / "outside.csv").exists()
    # The legitimate object the second key points at is not read by this run.
    assert not [r for r in outcome.after["load_audit"].values() if r[0] == RUN and r[1].endswith("us-counties.csv")]


@pytest.mark.slow
@pytest.mark.spark
def test_keys_with_spaces_quotes_and_glob_characters_read_exactly_their_object(outcome: Outcome) -> None:
    assert outcome.counties(NYT + "glob[1].csv") == {"Glob Bracket"}
    assert outcome.counties(NYT + "glob1.csv") == {"Glob Plain"}
    assert outcome.audit(NYT + "glob[1].csv") == (1, 1, 0)
    assert outcome.audit(NYT + "names with 'quotes'; and spaces.csv")[0] == len(NAMES)


# -- nothing else changes ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.spark
def test_the_raw_zone_is_never_modified(outcome: Outcome) -> None:
    assert outcome.raw_after == outcome.raw_before


@pytest.mark.slow
@pytest.mark.spark
def test_every_row_loaded_before_is_unchanged_and_every_new_row_comes_from_a_hostile_object(
    outcome: Outcome,
) -> None:
    hostile = {outcome.uri(key) for key in FILES}
    for name, before in outcome.before.items():
        after = outcome.after[name]
        unchanged = {k: after.get(k) for k in before}
        assert _checksum(list(unchanged.values())) == _checksum(list(before.values())), name
        added = [row for k, row in after.items() if k not in before]
        if name in {"fact_cases_daily"}:
            assert {row[-1] for row in added} <= hostile
        elif name in {"quarantine", "load_audit"}:
            assert {row[1] if name == "quarantine" else row[0] for row in added} <= {RUN}
        elif name == "dim_date":
            assert {row[0] for row in added} <= {20200401}
        elif name == "dim_region":
            loaded = set().union(*(outcome.counties(key) for key in FILES))
            assert {row[4] for row in added} <= loaded
        else:
            assert not added, name


# -- the CLI and a 1 GB file: no Spark -----------------------------------------------------------------


def test_the_cli_refuses_a_prefix_that_escapes_the_dataset(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = tmp_path / "us-counties.csv"
    data.write_bytes(_nyt("2020-04-01,Anywhere,Alabama,,5,1"))
    proc = cli("upload", str(data), "--dataset", NYT.split("/")[0], "--prefix", "../..", "--home", str(home))
    assert proc.returncode == 2
    assert "refusing object key" in proc.stderr
    assert "it would escape its prefix" in proc.stderr
    assert not (home / "executions").exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [data]


@pytest.mark.slow
def test_a_1_gb_file_stages_every_line(handler_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    home = Path(handler_env["PIPELINE_HOME"])
    key = NYT + "one-gigabyte.csv"
    path = home / "s3" / handler_env["RAW_BUCKET"] / key
    path.parent.mkdir(parents=True)
    block = "".join(f"2020-04-01,County {i:05d},Alabama,01{i % 1000:03d},{i * 7},{i % 13}\n" for i in range(20_000))
    repeats = -(-(1 << 30) // len(block))  # at least 1 GiB
    started = time.monotonic()
    with path.open("w") as fh:
        fh.write(NYT_HEADER)
        for _ in range(repeats):
            fh.write(block)
    written = time.monotonic()
    try:
        setup = invoke("setup", {"run_id": "big", "started_at": "t", "request": {"objects": [{"key": key}]}})
        invoke("crawl", {"action": "start"})
        stage = invoke("stage", {k: setup[k] for k in ("run_id", "manifest_uri", "staged_uri", "quarantine_uri")})
        staged = time.monotonic()
        assert stage["refused_objects"] == 0
        # The file's every line, beside the reference lookups every run reads.
        assert stage["rows"]["nyt_us_county"] == repeats * 20_000
        assert set(stage["rows"]) - {"nyt_us_county"} <= set(REFERENCE_FEEDS)
        parquet = sorted((home / "s3" / handler_env["LAKE_BUCKET"] / "staged" / "big").rglob("*.parquet"))
        errors = duckdb.sql(f"SELECT count(_cast_errors) FROM read_parquet({[str(p) for p in parquet]})").fetchone()
        assert errors == (0,)
        with capsys.disabled():
            print(
                f"\n1 GB file: {path.stat().st_size / 2**30:.2f} GiB, {repeats * 20_000:,} rows; "
                f"written in {written - started:.1f} s, Setup+crawl+Stage in {staged - written:.1f} s"
            )
    finally:
        path.unlink(missing_ok=True)
        shutil.rmtree(home / "s3" / handler_env["LAKE_BUCKET"] / "staged", ignore_errors=True)
