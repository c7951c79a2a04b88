"""The synthetic data generator (bench/generate.py): layout, header eras, determinism, plausible values."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import re
from pathlib import Path

import pytest

from bench import costs
from bench.generate import CTP_FILE, FIRST_DAY, JHU_DIR, NYT_FILE, generate, jhu_file_name, write_jhu_day
from covid_pipeline.feeds import JHU_DAILY, feed_for_key

DAYS, REGIONS = 70, 20

ERA_HEADERS = {
    dt.date(2020, 1, 22): "Province/State,Country/Region,Last Update,Confirmed,Deaths,Recovered",
    dt.date(2020, 3, 1): "Province/State,Country/Region,Last Update,Confirmed,Deaths,Recovered,Latitude,Longitude",
    dt.date(2020, 3, 22): "FIPS,Admin2,Province_State,Country_Region,Last_Update,Lat,Long_,Confirmed,Deaths,"
    "Recovered,Active,Combined_Key",
}


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "data"
    result = generate(out, DAYS, REGIONS, seed=7)
    assert result.files > DAYS
    assert min(result.rows.values()) > 0
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_deterministic_by_seed(data: Path, tmp_path: Path) -> None:
    generate(tmp_path / "same", DAYS, REGIONS, seed=7)
    generate(tmp_path / "other", DAYS, REGIONS, seed=8)
    assert _digest(tmp_path / "same") == _digest(data)
    assert _digest(tmp_path / "other") != _digest(data)


def test_one_jhu_file_per_day_with_the_era_header(data: Path) -> None:
    files = sorted((data / JHU_DIR).glob("*.csv"))
    assert len(files) == DAYS
    for i in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=i)
        header = (data / JHU_DIR / jhu_file_name(day)).read_text().splitlines()[0]
        era = max(d for d in ERA_HEADERS if d <= day)
        assert header == ERA_HEADERS[era], day


def test_later_eras_and_counties(tmp_path: Path) -> None:
    """Days beyond --days come out the same as in a longer generation; later eras add rate columns."""
    for day, extra in (
        (dt.date(2020, 6, 1), ",Incidence_Rate,Case-Fatality_Ratio"),
        (dt.date(2020, 11, 9), ",Incident_Rate,Case_Fatality_Ratio"),
    ):
        path = write_jhu_day(tmp_path, (day - FIRST_DAY).days, REGIONS, seed=7)
        rows = _rows(path)
        assert path.read_text().splitlines()[0] == ERA_HEADERS[dt.date(2020, 3, 22)] + extra
        counties = [r for r in rows if r["Admin2"]]
        assert len(counties) == REGIONS
        assert all(re.fullmatch(r"[1-9]\d{0,4}(\.0)?", r["FIPS"]) for r in counties)
        assert all(r["Combined_Key"].endswith(", US") for r in counties)


def test_cumulative_counts_mostly_monotone(data: Path) -> None:
    series: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for i in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=i)
        for r in _rows(data / JHU_DIR / jhu_file_name(day)):
            province = r.get("Province/State") or r.get("Province_State") or ""
            key = (r.get("Admin2") or "", province, r.get("Country/Region") or r.get("Country_Region") or "")
            series.setdefault(key, []).append((int(r["Confirmed"] or 0), int(r["Deaths"] or 0)))
    steps = decreases = 0
    for values in series.values():
        for (c0, d0), (c1, d1) in itertools.pairwise(values):
            steps += 1
            decreases += c1 < c0
            if c1 >= c0:
                assert d1 >= d0  # deaths follow confirmed
            assert c1 >= 0.9 * c0  # a correction is small
    assert steps > 100
    assert decreases <= 0.02 * steps
    all_last = [v[-1] for v in series.values() if v[-1][0] >= 1000]
    assert all_last
    assert all(0.005 <= d / c <= 0.035 for c, d in all_last)


def test_nyt_fips_formatting(data: Path) -> None:
    rows = _rows(data / NYT_FILE)
    assert list(rows[0]) == ["date", "county", "state", "fips", "cases", "deaths"]
    for r in rows:
        if r["county"] in ("New York City", "Unknown"):
            assert r["fips"] == ""
        else:
            assert re.fullmatch(r"\d{5}", r["fips"]), r
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)


def test_ctp_newest_first(data: Path) -> None:
    rows = _rows(data / CTP_FILE)
    assert len(rows[0]) == 25
    dates = [r["date"] for r in rows]
    assert dates == sorted(dates, reverse=True)
    assert re.fullmatch(r"2020\d{4}", dates[0])
    assert all(re.fullmatch(r"\d{2}", r["fips"]) for r in rows)


def test_every_generated_file_belongs_to_a_feed(data: Path) -> None:
    keys = [p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file() and p.suffix == ".csv"]
    assert {feed_for_key(k).name for k in keys if feed_for_key(k)} >= {"jhu_daily", "nyt_us_county", "ctp_states_daily"}
    assert [k for k in keys if feed_for_key(k) is None] == []
    assert sum(feed_for_key(k) is JHU_DAILY for k in keys) == DAYS


def test_cost_estimate_applies_minimums() -> None:
    small = costs.estimate(costs.RunInputs(glue_seconds=1, transitions=1000, rpu_seconds=1))
    assert small.lines["glue_job"] == pytest.approx(60 / 3600 * 2 * costs.price("glue_dpu_hour"))
    assert small.lines["step_functions"] == pytest.approx(costs.price("sfn_1000_transitions"))
    assert small.total > 0


def test_floor_reads_each_folder_in_one_scan_and_counts_what_the_files_hold(data: Path) -> None:
    """The honest floor (issue #13): one DuckDB scan per folder of CSVs, rows equal to the files' own rows,
    the per-file figure beside it."""
    from bench.__main__ import csv_folders, floor_seconds

    folders = csv_folders(data)
    files = [f for group in folders.values() for f in group]
    assert len(folders) < len(files)  # JHU's many daily files share one folder: fewer scans than files
    expected = 0
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            expected += sum(1 for _ in csv.reader(fh)) - 1  # the generator writes no quoted newlines
    floor = floor_seconds(data)
    assert (floor.rows, floor.files, floor.folders) == (expected, len(files), len(folders))
    assert floor.folder_s > 0
    assert floor.per_file_s > 0
