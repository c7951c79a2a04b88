"""The Stage SQL: header mapping by name, typing with reported cast errors, run on DuckDB."""

from pathlib import Path

import sqlglot

from covid_pipeline.composition import Ports
from covid_pipeline.domain.staging_sql import map_columns, staging_query
from covid_pipeline.feeds import CTP_STATES_DAILY, JHU_DAILY
from covid_pipeline.ports import CatalogColumn, CatalogTable


def _table(feed_name: str, header: list[str]) -> CatalogTable:
    return CatalogTable(
        "db", "t", "s3://raw/", tuple(CatalogColumn(h, "string") for h in header), (), {"feed": feed_name}
    )


def test_old_and_new_jhu_headers_map_to_the_same_canonical_columns() -> None:
    old = map_columns(
        JHU_DAILY,
        _table(
            "jhu_daily",
            ["Province/State", "Country/Region", "Last Update", "Confirmed", "Deaths", "Recovered"],
        ),
    )
    new = map_columns(
        JHU_DAILY,
        _table(
            "jhu_daily",
            [
                "FIPS",
                "Admin2",
                "Province_State",
                "Country_Region",
                "Last_Update",
                "Lat",
                "Long_",
                "Confirmed",
                "Deaths",
                "Recovered",
                "Active",
                "Combined_Key",
            ],
        ),
    )
    assert old.source_columns["province_state"] == "Province/State"
    assert new.source_columns["province_state"] == "Province_State"
    assert new.source_columns["longitude"] == "Long_"
    assert not old.missing_required
    assert not new.missing_required


def test_missing_required_and_unmapped_columns_are_reported() -> None:
    mapping = map_columns(JHU_DAILY, _table("jhu_daily", ["Country_Region", "Deaths", "Shiny_New_Column"]))
    assert mapping.missing_required == ("confirmed",)
    assert mapping.unmapped == ("shiny_new_column",)


def test_query_is_valid_trino() -> None:
    table = _table("ctp_states_daily", ["date", "state", "positive", "hospitalizedCurrently"])
    sql = staging_query(map_columns(CTP_STATES_DAILY, table), table)
    parsed = sqlglot.parse_one(sql, read="trino")
    assert parsed.find(sqlglot.exp.From) is not None
    assert '"hospitalizedCurrently"' in sql


def test_staging_on_duckdb_types_values_and_reports_cast_errors(ports: Ports, tmp_path: Path) -> None:
    settings = ports.settings
    ports.store.put_bytes(
        f"{settings.raw_uri}enigma-jhu/csv/04-12-2020.csv",
        b"FIPS,Admin2,Province_State,Country_Region,Last_Update,Lat,Long_,Confirmed,Deaths,Recovered,Active\n"
        b"1001.0,Autauga,Alabama,US,2020-04-12 23:18:00,32.5,-86.6,12,0,,12\n"
        b",Unassigned,Alabama,US,2020-04-12 23:18:00,,,abc,1.5,0,0\n",
    )
    ports.catalog.start_crawler(settings.raw_crawler)
    (table,) = ports.catalog.tables(settings.glue_database)
    rows = ports.sql.query(
        "SELECT fips, confirmed, deaths, recovered, report_date, _source_object, _cast_errors FROM ("
        + staging_query(map_columns(JHU_DAILY, table), table)
        + ") ORDER BY admin2"
    )
    good, bad = rows
    assert good[:4] == ("1001.0", 12, 0, None)
    assert str(good[4]) == "2020-04-12"
    assert good[5] == f"{settings.raw_uri}enigma-jhu/csv/04-12-2020.csv"
    assert good[6] is None
    assert bad[1] is None
    assert bad[2] is None
    assert bad[6] == "confirmed=abc; deaths=1.5"


def test_quoted_fields_in_a_later_file_of_a_table_are_not_split(ports: Ports) -> None:
    """Found at full scale: a table's first file had no quotes, DuckDB's sniffer (on the first file) dropped
    quoting for all, and a later file's "Bonaire, Sint Eustatius and Saba" shifted its row by one column."""
    header = "Province/State,Country/Region,Last Update,Confirmed,Deaths,Recovered\n"
    plain = "".join(f"Province {i},Country {i},1/22/2020 17:00,{i + 2},,\n" for i in range(50))
    quoted = (
        '"Bonaire, Sint Eustatius and Saba",Netherlands,2/13/2020 04:52,1,,\n,"Korea, South",2/13/2020 04:52,26,1,\n'
    )
    raw = ports.settings.raw_uri
    ports.store.put_bytes(f"{raw}enigma-jhu/csv/01-22-2020.csv", (header + plain).encode())
    ports.store.put_bytes(f"{raw}enigma-jhu/csv/02-13-2020.csv", (header + quoted).encode())
    ports.catalog.start_crawler(ports.settings.raw_crawler)
    (table,) = ports.catalog.tables(ports.settings.glue_database)
    assert len(table.objects) == 2
    staged = "(" + staging_query(map_columns(JHU_DAILY, table), table) + ")"
    assert ports.sql.query(f"SELECT count(*) FROM {staged} WHERE _cast_errors IS NOT NULL") == [(0,)]
    assert ports.sql.query(
        f"SELECT province_state, country_region, confirmed, deaths FROM {staged} WHERE report_date = DATE '2020-02-13' "
        "ORDER BY confirmed"
    ) == [("Bonaire, Sint Eustatius and Saba", "Netherlands", 1, None), (None, "Korea, South", 26, 1)]


def test_day_of_sql_equals_parse_day_on_every_format() -> None:
    """The day a Last_Update/lastModified text gives, in the SQL Stage runs, equals feeds.parse_day."""
    import duckdb

    from covid_pipeline.domain.staging_sql import day_of, literal
    from covid_pipeline.feeds import parse_day

    texts = [
        "2020-01-22T17:00:00",
        "1/22/2020 17:00",
        "1/5/2020 7:00",
        "3/22/20 23:45",
        "2020-03-22 23:45:00",
        "2020-05-01T09:12:31.891Z",
        "2020-02-30T10:00:00",
        "13/45/2020 10:00",
        "20",
        "yesterday",
    ]
    selects = ", ".join(f"{day_of(literal(t))} AS d{i}" for i, t in enumerate(texts))
    sql = sqlglot.transpile(f"SELECT {selects}", read="trino", write="duckdb")[0]
    got = duckdb.sql(sql).fetchone()
    assert list(got) == [parse_day(t) for t in texts]
    assert [d for d in got if d is not None]  # some parse: the comparison is not all NULL
