"""Operations on several DataFrames at once, in as few plan analyses as possible."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame


def union_by_name(frames: Sequence[DataFrame]) -> DataFrame:
    """The union (by column name, duplicates kept) of ``frames``, in their order.

    Each union step makes a DataFrame whose whole plan the driver analyses: folding left to right
    analyses the first frame's plan once per frame, a balanced fold about log2(n) times (Spark
    flattens nested unions into one, so the plan and the rows are the same).
    """
    if not frames:
        raise ValueError("union_by_name needs at least one frame")
    if len(frames) == 1:
        return frames[0]
    middle = len(frames) // 2
    return union_by_name(frames[:middle]).unionByName(union_by_name(frames[middle:]))
