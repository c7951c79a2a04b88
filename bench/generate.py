"""Synthetic raw data in the AWS COVID-19 data lake layout, at any scale up to the real one.

    .venv/bin/python -m bench.generate OUT_DIR [--days N] [--regions N] [--seed S]

Writes what `covid-pipeline run --source OUT_DIR` reads:

* ``enigma-jhu/csv/MM-DD-YYYY.csv``: one file per day from 2020-01-22, in JHU's header era of that date
  (before 03-01: ``Province/State`` ... with blank zeros; 03-01..03-21: + ``Latitude,Longitude``;
  from 03-22: ``FIPS,Admin2,...,Combined_Key`` with US counties; from 05-29: + ``Incidence_Rate,
  Case-Fatality_Ratio``; from 11-09: ``Incident_Rate,Case_Fatality_Ratio``);
* ``enigma-nytimes-data-in-usa/csv/us_county/us-counties.csv``: every county and day since its first case
  (until 2022-05-13, where NYT's one-file history ends);
* ``rearc-covid-19-testing-data/csv/states_daily/states_daily.csv``: the 25-column April-2020 layout,
  ``date`` as YYYYMMDD, newest first;
* ``rearc-usa-hospital-beds/`` copied unchanged from ``data/sample``, ``static-datasets/`` from ``data/lake``.

Region names are real (JHU's UID lookup): ``--regions`` US counties (default: all of them) plus a
proportional share of the other countries and provinces (all of them at full scale). Values are
cumulative and monotone per region except for rare small downward corrections (about 0.3 % of
region-days), deaths about 1-3 % of confirmed, a few % of recovered blank. The series of a region
does not depend on ``--days``: generating N+1 days reproduces the first N files byte for byte.
Deterministic by ``--seed`` (numpy Generator); each file is written from column arrays by pyarrow.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
REFERENCE = ROOT / "layers" / "shared" / "python" / "covid_pipeline" / "reference"
LOOKUP = REFERENCE / "UID_ISO_FIPS_LookUp_Table.csv"
STATE_FIPS = REFERENCE / "state_fips_master.csv"
# (folder, dataset) copied unchanged into the generated source.
STATIC_COPIES = ((SAMPLE, "rearc-usa-hospital-beds"), (ROOT / "data" / "lake", "static-datasets"))

FIRST_DAY = dt.date(2020, 1, 22)
HORIZON = 1300  # days of series drawn per region, whatever --days is (keeps files stable across --days)
FULL_DAYS = 1143  # 2020-01-22 .. 2023-03-09, JHU's last daily report
ERA2 = dt.date(2020, 3, 1)  # + Latitude,Longitude
ERA3 = dt.date(2020, 3, 22)  # FIPS,Admin2,... with US counties
ERA4 = dt.date(2020, 5, 29)  # + Incidence_Rate,Case-Fatality_Ratio
ERA5 = dt.date(2020, 11, 9)  # Incident_Rate,Case_Fatality_Ratio
NYT_LAST = dt.date(2022, 5, 13)  # the one-file us-counties.csv ends here (later years are split by year)
CTP_FIRST, CTP_LAST = dt.date(2020, 3, 4), dt.date(2021, 3, 7)
CORRECTION_RATE = 0.003  # share of region-days whose cumulative count is corrected downwards
NYC_BOROUGHS = frozenset({"New York", "Kings", "Queens", "Bronx", "Richmond"})

JHU_DIR = "enigma-jhu/csv"
NYT_FILE = "enigma-nytimes-data-in-usa/csv/us_county/us-counties.csv"
CTP_FILE = "rearc-covid-19-testing-data/csv/states_daily/states_daily.csv"

CTP_COLUMNS = [
    "date",
    "state",
    "positive",
    "negative",
    "pending",
    "hospitalizedCurrently",
    "hospitalizedCumulative",
    "inIcuCurrently",
    "inIcuCumulative",
    "onVentilatorCurrently",
    "onVentilatorCumulative",
    "recovered",
    "hash",
    "dateChecked",
    "death",
    "hospitalized",
    "total",
    "totalTestResults",
    "posNeg",
    "fips",
    "deathIncrease",
    "hospitalizedIncrease",
    "negativeIncrease",
    "positiveIncrease",
    "totalTestResultsIncrease",
]

_DUCK: duckdb.DuckDBPyConnection | None = None


def write_csv(table: pa.Table, path: Path) -> None:
    """CSV like the sources write it: quotes only where a value needs them, blanks for nulls."""
    global _DUCK
    if _DUCK is None:
        _DUCK = duckdb.connect()
        _DUCK.execute("SET threads = 1")
    _DUCK.register("_t", table)
    try:
        _DUCK.execute(f"COPY _t TO '{path}' (FORMAT csv, HEADER)")
    finally:
        _DUCK.unregister("_t")


def jhu_file_name(day: dt.date) -> str:
    return day.strftime("%m-%d-%Y.csv")


def jhu_era(day: dt.date) -> int:
    return 1 + sum(day >= d for d in (ERA2, ERA3, ERA4, ERA5))


@dataclass
class Regions:
    """Region attributes as arrays (one entry per region), from the real UID lookup."""

    fips: np.ndarray  # int, 0 when none
    admin2: np.ndarray  # object (str or None)
    province: np.ndarray
    country: np.ndarray
    lat: np.ndarray  # object: the lookup's text
    long: np.ndarray
    combined: np.ndarray
    population: np.ndarray  # float, nan when unknown
    is_county: np.ndarray  # bool
    is_us_state: np.ndarray  # bool: a US state/territory row (no Admin2)

    def __len__(self) -> int:
        return len(self.fips)


def _read_lookup() -> pa.Table:
    opts = pacsv.ConvertOptions(column_types={n: pa.string() for n in ("FIPS", "Lat", "Long_", "Population")})
    opts.strings_can_be_null = True
    return pacsv.read_csv(LOOKUP, convert_options=opts)


def select_regions(n_counties: int | None, rng: np.random.Generator) -> Regions:
    t = _read_lookup().to_pydict()
    rows = list(zip(*(t[c] for c in t), strict=True))
    cols = {c: i for i, c in enumerate(t)}
    counties, states, others = [], [], []
    for r in rows:
        country, admin2, fips = r[cols["Country_Region"]], r[cols["Admin2"]], r[cols["FIPS"]]
        if country == "US":
            if admin2 and fips and fips.isdigit():
                counties.append(r)
            elif not admin2 and r[cols["Province_State"]] and fips and fips.isdigit() and int(fips) < 100:
                states.append(r)
        elif not admin2:
            others.append(r)
    total = len(counties)
    n = total if n_counties is None else max(1, min(n_counties, total))
    pick = np.sort(rng.choice(total, size=n, replace=False)) if n < total else np.arange(total)
    counties = [counties[i] for i in pick]
    n_other = len(others) if n == total else max(5, round(len(others) * n / total))
    others = [others[i] for i in np.sort(rng.choice(len(others), size=min(n_other, len(others)), replace=False))]
    used_states = {r[cols["Province_State"]] for r in counties}
    states = [r for r in states if r[cols["Province_State"]] in used_states]
    chosen = counties + states + others

    def col(name: str) -> np.ndarray:
        return np.array([r[cols[name]] for r in chosen], dtype=object)

    fips = np.array([int(f) if f and f.isdigit() else 0 for f in col("FIPS")], dtype=np.int64)
    pop = np.array([float(p) if p else np.nan for p in col("Population")])
    kind = np.array([0] * len(counties) + [1] * len(states) + [2] * len(others))
    return Regions(
        fips=fips,
        admin2=col("Admin2"),
        province=col("Province_State"),
        country=col("Country_Region"),
        lat=col("Lat"),
        long=col("Long_"),
        combined=col("Combined_Key"),
        population=pop,
        is_county=kind == 0,
        is_us_state=kind == 1,
    )


def cumulative_series(n: int, rng: np.random.Generator, onset: np.ndarray, final: np.ndarray) -> np.ndarray:
    """(n, HORIZON) int64 cumulative counts: waves of growth from ``onset``, rare small corrections down."""
    days = np.arange(HORIZON, dtype=np.float64)
    since = days[None, :] - onset[:, None]
    # Three waves per region: logistic curves with random centres and weights.
    curve = np.zeros((n, HORIZON))
    weights = rng.dirichlet([2.0, 3.0, 4.0], size=n)
    centres = onset[:, None] + np.stack(
        [rng.uniform(60, 120, n), rng.uniform(250, 350, n), rng.uniform(650, 750, n)], axis=1
    )
    widths = rng.uniform(8, 25, size=(n, 3))
    for k in range(3):
        curve += weights[:, k : k + 1] / (1 + np.exp(-(days[None, :] - centres[:, k : k + 1]) / widths[:, k : k + 1]))
    at_onset = curve[np.arange(n), np.clip(onset.astype(np.int64), 0, HORIZON - 1)]
    curve = np.clip(curve - at_onset[:, None], 0.0, None)
    curve[since < 0] = 0.0
    expected = np.diff(curve * final[:, None], axis=1, prepend=0.0)
    noise = rng.gamma(shape=4.0, scale=0.25, size=(n, HORIZON))  # mean 1, reporting noise
    increments = np.floor(np.clip(expected, 0, None) * noise)
    increments[since == 0] += 1  # the first case
    increments[since < 0] = 0
    cum = np.cumsum(increments, axis=1)
    # Corrections: a small share of yesterday's total taken back, for good.
    fix = (rng.random((n, HORIZON)) < CORRECTION_RATE) & (since > 0)
    take = np.zeros((n, HORIZON))
    prev = np.concatenate([np.zeros((n, 1)), cum[:, :-1]], axis=1)
    take[fix] = np.floor(prev[fix] * rng.uniform(0.001, 0.02, size=int(fix.sum())))
    cum = cum - np.cumsum(take, axis=1)
    return np.clip(cum, 0, None).astype(np.int64)


@dataclass
class Series:
    confirmed: np.ndarray
    deaths: np.ndarray
    recovered: np.ndarray  # -1 = blank
    onset: np.ndarray


def make_series(regions: Regions, rng: np.random.Generator) -> Series:
    n = len(regions)
    # First case: China and a few others in January, the rest of the world in Feb-Mar, US counties Mar-Jun.
    onset = np.where(
        regions.is_county,
        rng.gamma(3.0, 12.0, n) + 40,
        np.where(regions.is_us_state, rng.uniform(0, 50, n), rng.gamma(2.0, 15.0, n)),
    )
    onset[regions.country == "China"] = 0
    onset[~regions.is_county] -= onset[~regions.is_county].min()  # day one is never empty
    onset = np.floor(onset)
    pop = np.where(np.isnan(regions.population), rng.uniform(2e4, 2e6, n), regions.population)
    final = pop * rng.uniform(0.08, 0.35, n)
    confirmed = cumulative_series(n, rng, onset, final)
    cfr = rng.uniform(0.01, 0.03, n)
    deaths = np.floor(confirmed * cfr[:, None]).astype(np.int64)  # monotone whenever confirmed is
    lagged = np.concatenate([np.zeros((n, 14), dtype=np.int64), confirmed[:, :-14]], axis=1)
    recovered = np.where(regions.is_county[:, None], 0, np.floor(lagged * rng.uniform(0.85, 0.97, n)[:, None]))
    recovered = recovered.astype(np.int64)
    recovered[rng.random((n, HORIZON)) < 0.03] = -1
    return Series(confirmed, deaths, recovered, onset.astype(np.int64))


def _nullable(values: np.ndarray, blank: np.ndarray | None = None) -> pa.Array:
    return pa.array(values, mask=blank) if blank is not None and blank.any() else pa.array(values)


def _text(values: np.ndarray) -> pa.Array:
    return pa.array(list(values), type=pa.string())


class JhuWriter:
    """Writes one JHU daily file; static text columns are built once."""

    def __init__(self, regions: Regions, series: Series, rng: np.random.Generator) -> None:
        self.r, self.s = regions, series
        self.early = np.flatnonzero(~regions.is_county)  # states and countries before 03-22
        self.late = np.flatnonzero(~regions.is_us_state)  # counties and countries from 03-22
        self.float_fips_day = rng.random(HORIZON) < 0.08  # some files carry FIPS as 1001.0
        self.minute = rng.integers(0, 60 * 24, HORIZON)
        self._static: dict[tuple[str, int], pa.Array] = {}

    def _col(self, name: str, rows: np.ndarray, key: int) -> pa.Array:
        cached = self._static.get((name, key))
        if cached is None:
            if name in ("FIPS", "FIPS.0"):
                f = self.r.fips[rows]
                suffix = ".0" if name == "FIPS.0" else ""
                cached = _text(np.where(f > 0, [f"{v}{suffix}" for v in f], None))
            else:
                cached = _text(getattr(self.r, name)[rows])
            self._static[(name, key)] = cached
        return cached

    def table(self, index: int) -> pa.Table:
        day = FIRST_DAY + dt.timedelta(days=index)
        era = jhu_era(day)
        s = self.s
        rows = self.early[s.onset[self.early] <= index] if era <= 2 else self.late  # counties from 03-22
        conf, deaths, rec = s.confirmed[rows, index], s.deaths[rows, index], s.recovered[rows, index]
        stamp = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=int(self.minute[index]))
        n = len(rows)
        if era == 1:
            last = stamp.strftime(f"{stamp.month}/{stamp.day}/%Y %H:%M")
            cols = {
                "Province/State": self._col("province", rows, index),
                "Country/Region": self._col("country", rows, index),
                "Last Update": pa.array([last] * n),
                "Confirmed": _nullable(conf, conf == 0),
                "Deaths": _nullable(deaths, deaths == 0),
                "Recovered": _nullable(rec, rec <= 0),
            }
            return pa.table(cols)
        if era == 2:
            cols = {
                "Province/State": self._col("province", rows, index),
                "Country/Region": self._col("country", rows, index),
                "Last Update": pa.array([stamp.strftime("%Y-%m-%dT%H:%M:%S")] * n),
                "Confirmed": pa.array(conf),
                "Deaths": pa.array(deaths),
                "Recovered": _nullable(rec, rec < 0),
                "Latitude": self._col("lat", rows, index),
                "Longitude": self._col("long", rows, index),
            }
            return pa.table(cols)
        key = -1  # late rows are always the same set: cache across days
        active = conf - deaths - np.clip(rec, 0, None)
        cols = {
            "FIPS": self._col("FIPS.0" if self.float_fips_day[index] else "FIPS", rows, key),
            "Admin2": self._col("admin2", rows, key),
            "Province_State": self._col("province", rows, key),
            "Country_Region": self._col("country", rows, key),
            "Last_Update": pa.array([stamp.strftime("%Y-%m-%d %H:%M:%S")] * n),
            "Lat": self._col("lat", rows, key),
            "Long_": self._col("long", rows, key),
            "Confirmed": pa.array(conf),
            "Deaths": pa.array(deaths),
            "Recovered": _nullable(rec, rec < 0),
            "Active": pa.array(active),
            "Combined_Key": self._col("combined", rows, key),
        }
        if era >= 4:
            pop = self.r.population[rows]
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = np.round(conf / pop * 100000, 6)
                cfr = np.round(deaths / conf * 100, 6)
            names = ("Incidence_Rate", "Case-Fatality_Ratio") if era == 4 else ("Incident_Rate", "Case_Fatality_Ratio")
            cols[names[0]] = _nullable(rate, ~np.isfinite(rate))
            cols[names[1]] = _nullable(cfr, ~np.isfinite(cfr))
        return pa.table(cols)

    def write(self, index: int, out: Path) -> tuple[Path, int]:
        path = out / JHU_DIR / jhu_file_name(FIRST_DAY + dt.timedelta(days=index))
        table = self.table(index)
        write_csv(table, path)
        return path, table.num_rows


def _date_strings(days: int, fmt: str) -> np.ndarray:
    return np.array([(FIRST_DAY + dt.timedelta(days=i)).strftime(fmt) for i in range(days)], dtype=object)


def write_nyt(regions: Regions, series: Series, days: int, out: Path, rng: np.random.Generator) -> int:
    """One row per county and day since its first case; NYC boroughs merged, an 'Unknown' per state."""
    county = np.flatnonzero(regions.is_county)
    nyc = county[(regions.province[county] == "New York") & np.isin(regions.admin2[county], list(NYC_BOROUGHS))]
    keep = np.setdiff1d(county, nyc)
    names = list(regions.admin2[keep])
    states = list(regions.province[keep])
    fips = [f"{v:05d}" for v in regions.fips[keep]]
    conf = [series.confirmed[keep]]
    dead = [series.deaths[keep]]
    onset = [series.onset[keep]]
    if len(nyc):
        names.append("New York City")
        states.append("New York")
        fips.append(None)
        conf.append(series.confirmed[nyc].sum(axis=0, keepdims=True))
        dead.append(series.deaths[nyc].sum(axis=0, keepdims=True))
        onset.append(series.onset[nyc].min(keepdims=True))
    state_names = sorted(set(regions.province[county]))
    unknown = rng.integers(1, 200, size=(len(state_names), 1)) * np.linspace(0, 1, HORIZON)[None, :]
    for st in state_names:
        names.append("Unknown")
        states.append(st)
        fips.append(None)
    conf.append(np.floor(unknown).astype(np.int64))
    dead.append(np.floor(unknown * 0.01).astype(np.int64))
    onset.append(np.full(len(state_names), 60))
    conf_m, dead_m, onset_v = np.concatenate(conf), np.concatenate(dead), np.concatenate(onset)
    # NYT counts its own way: a little off JHU's, still cumulative.
    conf_m = np.maximum.accumulate(np.floor(conf_m * rng.uniform(0.97, 1.03, (len(conf_m), 1))), axis=1)
    nyt_days = min(days, (NYT_LAST - FIRST_DAY).days + 1)
    present = np.arange(nyt_days)[None, :] >= np.maximum(onset_v, 0)[:, None]
    present &= conf_m[:, :nyt_days] > 0
    # Rows ordered by date, then state, then county (like the NYT file).
    order = np.lexsort((np.array(names, dtype=object), np.array(states, dtype=object)))
    present = present[order]
    day_idx, reg_pos = np.nonzero(present.T)
    reg = order[reg_pos]
    dates = _date_strings(days, "%Y-%m-%d")
    table = pa.table(
        {
            "date": pa.DictionaryArray.from_arrays(pa.array(day_idx.astype(np.int32)), _text(dates)).cast(pa.string()),
            "county": pa.DictionaryArray.from_arrays(pa.array(reg.astype(np.int32)), _text(np.array(names))).cast(
                pa.string()
            ),
            "state": pa.DictionaryArray.from_arrays(pa.array(reg.astype(np.int32)), _text(np.array(states))).cast(
                pa.string()
            ),
            "fips": pa.DictionaryArray.from_arrays(
                pa.array(reg.astype(np.int32)), pa.array(fips, type=pa.string())
            ).cast(pa.string()),
            "cases": pa.array(conf_m[reg, day_idx].astype(np.int64)),
            "deaths": pa.array(dead_m[reg, day_idx]),
        }
    )
    path = out / NYT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(table, path)
    return table.num_rows


def write_ctp(regions: Regions, days: int, out: Path, rng: np.random.Generator) -> int:
    """The COVID Tracking Project's states daily (April-2020 layout), newest first, states alphabetical."""
    st = duckdb.sql(
        f"SELECT * FROM read_csv('{STATE_FIPS}', all_varchar = true, null_padding = true)"
    ).fetch_arrow_table()
    st = st.to_pydict()
    abbr = np.array(st["state_abbr"], dtype=object)
    fips = np.array([f.zfill(2) for f in st["fips"]], dtype=object)
    n = len(abbr)
    onset = np.floor(rng.uniform(0, 30, n)) + (CTP_FIRST - FIRST_DAY).days
    positive = cumulative_series(n, rng, onset, rng.uniform(5e4, 2e6, n))
    negative = np.maximum.accumulate(positive * rng.uniform(4, 12, (n, 1)) + rng.integers(0, 500, (n, 1)), axis=1)
    negative = negative.astype(np.int64)
    death = np.floor(positive * rng.uniform(0.01, 0.03, (n, 1))).astype(np.int64)
    hosp = np.floor(positive * rng.uniform(0.05, 0.12, (n, 1))).astype(np.int64)
    first = min((CTP_FIRST - FIRST_DAY).days, days - 1)
    last = min((CTP_LAST - FIRST_DAY).days, days - 1)
    day_idx = np.repeat(np.arange(last, first - 1, -1), n)
    reg = np.tile(np.argsort(abbr), last - first + 1)
    prev = np.maximum(day_idx - 1, 0)

    def inc(m: np.ndarray) -> np.ndarray:
        return m[reg, day_idx] - m[reg, prev]

    pos, neg = positive[reg, day_idx], negative[reg, day_idx]
    m = len(reg)
    blank = rng.random(m) < 0.5
    hashes = np.frombuffer(rng.bytes(20 * m).hex().encode(), dtype="S40").astype(str)
    dates = _date_strings(days, "%Y%m%d")
    checked = _date_strings(days, "%Y-%m-%dT20:00:00Z")
    hcur = np.floor(hosp[reg, day_idx] * 0.1).astype(np.int64)
    cols: dict[str, pa.Array] = {
        "date": _text(dates[day_idx]),
        "state": _text(abbr[reg]),
        "positive": pa.array(pos),
        "negative": pa.array(neg),
        "pending": _nullable(rng.integers(0, 300, m), rng.random(m) < 0.8),
        "hospitalizedCurrently": _nullable(hcur, blank),
        "hospitalizedCumulative": _nullable(hosp[reg, day_idx], blank),
        "inIcuCurrently": _nullable(hcur // 4, blank),
        "inIcuCumulative": _nullable(hosp[reg, day_idx] // 4, blank),
        "onVentilatorCurrently": _nullable(hcur // 8, blank),
        "onVentilatorCumulative": _nullable(hosp[reg, day_idx] // 8, blank),
        "recovered": _nullable(np.floor(pos * 0.6).astype(np.int64), rng.random(m) < 0.3),
        "hash": _text(hashes),
        "dateChecked": _text(checked[day_idx]),
        "death": pa.array(death[reg, day_idx]),
        "hospitalized": _nullable(hosp[reg, day_idx], blank),
        "total": pa.array(pos + neg),
        "totalTestResults": pa.array(pos + neg),
        "posNeg": pa.array(pos + neg),
        "fips": _text(fips[reg]),
        "deathIncrease": pa.array(inc(death)),
        "hospitalizedIncrease": pa.array(inc(hosp)),
        "negativeIncrease": pa.array(inc(negative)),
        "positiveIncrease": pa.array(inc(positive)),
        "totalTestResultsIncrease": pa.array(inc(positive) + inc(negative)),
    }
    assert list(cols) == CTP_COLUMNS
    path = out / CTP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(pa.table(cols), path)
    return m


@dataclass
class Generated:
    files: int
    rows: dict[str, int]
    bytes: int
    seconds: float

    def summary(self) -> str:
        rows = " ".join(f"{k}={v}" for k, v in self.rows.items())
        return (
            f"generated files={self.files} {rows} bytes={self.bytes} mb={self.bytes / 2**20:.1f} s={self.seconds:.2f}"
        )


def build(regions_n: int | None, seed: int) -> tuple[Regions, Series, np.random.Generator]:
    rng = np.random.default_rng(seed)
    regions = select_regions(regions_n, rng)
    series = make_series(regions, rng)
    return regions, series, rng


def generate(out: Path, days: int = FULL_DAYS, regions: int | None = None, seed: int = 0) -> Generated:
    if not 1 <= days <= HORIZON:
        raise ValueError(f"--days must be between 1 and {HORIZON}")
    started = time.perf_counter()
    out = Path(out)
    reg, series, rng = build(regions, seed)
    (out / JHU_DIR).mkdir(parents=True, exist_ok=True)
    jhu = JhuWriter(reg, series, rng)
    jhu_rows = sum(jhu.write(i, out)[1] for i in range(days))
    nyt_rows = write_nyt(reg, series, days, out, rng)
    ctp_rows = write_ctp(reg, days, out, rng)
    for folder, name in STATIC_COPIES:
        shutil.copytree(folder / name, out / name, dirs_exist_ok=True)
    files = [p for p in out.rglob("*") if p.is_file()]
    return Generated(
        files=len(files),
        rows={"jhu": jhu_rows, "nyt": nyt_rows, "ctp": ctp_rows},
        bytes=sum(p.stat().st_size for p in files),
        seconds=time.perf_counter() - started,
    )


def write_jhu_day(out: Path, index: int, regions: int | None = None, seed: int = 0) -> Path:
    """Only the JHU file of day ``index`` (0 = 2020-01-22), the same bytes a full generation writes."""
    reg, series, rng = build(regions, seed)
    (out / JHU_DIR).mkdir(parents=True, exist_ok=True)
    return JhuWriter(reg, series, rng).write(index, out)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, metavar="OUT_DIR")
    parser.add_argument("--days", type=int, default=FULL_DAYS, help="days from 2020-01-22 (default: %(default)s)")
    parser.add_argument("--regions", type=int, default=None, help="US counties (default: all in the UID lookup)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(generate(args.out, args.days, args.regions, args.seed).summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
