"""bench.profile_clean's time accounting: concurrent queries are counted once; JVM threads by kind."""

from bench.proctree import stat_cpu_seconds
from bench.profile_clean import THREAD_KIND_ORDER, covered_seconds, thread_kind


def test_overlapping_intervals_are_counted_once() -> None:
    assert covered_seconds([(0.0, 10.0), (5.0, 12.0), (20.0, 25.0)]) == 17.0
    assert covered_seconds([(0.0, 10.0), (2.0, 3.0)]) == 10.0
    assert covered_seconds([]) == 0.0


def test_jvm_threads_are_told_apart_by_their_names() -> None:
    # Names as /proc/<pid>/task/<tid>/comm gives them (15 characters) in a local Spark JVM.
    names = {
        "C2 CompilerThre": "jit",
        "C1 CompilerThre": "jit",
        "Executor task l": "tasks",
        "Thread-3": "driver",
        "GC Thread#0": "gc",
        "G1 Conc#0": "gc",
        "G1 Refine#0": "gc",
        "VM Thread": "gc",
        "dag-scheduler-e": "other",
        "java": "other",
    }
    assert {name: thread_kind(name) for name in names} == names
    assert set(names.values()) <= set(THREAD_KIND_ORDER)


def test_cpu_seconds_read_a_stat_line_whose_name_holds_spaces_and_parentheses() -> None:
    # /proc/<pid>/task/<tid>/stat: pid (comm) state ppid ... utime (14th field) stime (15th), in clock ticks.
    fields = ["S", *["0"] * 10, "250", "50", *["0"] * 30]
    assert stat_cpu_seconds("1234 (C2 (Compiler) x) " + " ".join(fields), tick=100) == 3.0
