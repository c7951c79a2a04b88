"""bench.profile_clean's time accounting: concurrent queries are counted once."""

from bench.profile_clean import covered_seconds


def test_overlapping_intervals_are_counted_once() -> None:
    assert covered_seconds([(0.0, 10.0), (5.0, 12.0), (20.0, 25.0)]) == 17.0
    assert covered_seconds([(0.0, 10.0), (2.0, 3.0)]) == 10.0
    assert covered_seconds([]) == 0.0
