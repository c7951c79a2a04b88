"""union_by_name: the rows of every frame, in order, matched by column name, whatever the fold."""

from __future__ import annotations

import pytest

from covid_transforms.frames import union_by_name

pytestmark = pytest.mark.spark


def test_union_by_name_keeps_every_row_in_order_matching_columns_by_name(spark) -> None:
    frames = [
        spark.createDataFrame([(i, f"r{i}")], "a int, b string")
        if i % 2
        else spark.createDataFrame([(f"r{i}", i)], "b string, a int")
        for i in range(7)
    ]
    frames.append(spark.createDataFrame([(1, "r1")], "a int, b string"))  # a duplicate stays

    union = union_by_name(frames)

    assert union.columns == ["b", "a"]  # the first frame's order
    assert [(r["a"], r["b"]) for r in union.collect()] == [*((i, f"r{i}") for i in range(7)), (1, "r1")]


def test_union_by_name_of_one_frame_is_that_frame_and_of_none_an_error(spark) -> None:
    frame = spark.createDataFrame([(1,)], "a int")
    assert union_by_name([frame]) is frame
    with pytest.raises(ValueError, match="at least one"):
        union_by_name([])
