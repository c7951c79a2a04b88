"""dim_date: ISO calendar attributes of every day a fact uses."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual

from covid_transforms.dates import dim_date

pytestmark = pytest.mark.spark


def test_dim_date_has_one_row_per_fact_day_with_iso_calendar(spark) -> None:
    cases = spark.createDataFrame([(20201231,), (20210103,), (20210103,)], "date_key int")
    testing = spark.createDataFrame([(20210104,), (20200412,)], "date_key int")
    expected = [
        (d.year * 10000 + d.month * 100 + d.day, d, d.year, (d.month - 1) // 3 + 1, d.month, d.day,
         d.isoweekday(), d.isocalendar().week, d.isoweekday() >= 6)
        for d in (date(2020, 12, 31), date(2021, 1, 3), date(2021, 1, 4), date(2020, 4, 12))
    ]  # fmt: skip
    # 2021-01-03 is a Sunday of ISO week 53 (of 2020); 2021-01-04 a Monday of week 1.
    assert [(e[6], e[7]) for e in expected[1:3]] == [(7, 53), (1, 1)]
    assertDataFrameEqual(
        dim_date(cases, testing),
        spark.createDataFrame(
            expected,
            "date_key int, date date, year int, quarter int, month int, day int, day_of_week int, "
            "week_of_year int, is_weekend boolean",
        ),
    )
