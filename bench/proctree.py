"""Peak resident memory of a process tree, sampled from /proc (Linux)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


def children(pid: int) -> list[int]:
    """The pids of ``pid``'s child processes (empty once it has ended)."""
    kids: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        for task in task_dir.iterdir():
            text = (task / "children").read_text()
            kids += [int(p) for p in text.split()]
    except OSError:
        pass
    return kids


def cpu_seconds(stat_path: Path | str) -> float:
    """utime + stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file, in seconds.

    The name field may hold spaces and parentheses: the fields are counted after its last ')'."""
    return stat_cpu_seconds(Path(stat_path).read_text(), os.sysconf("SC_CLK_TCK"))


def stat_cpu_seconds(stat: str, tick: int) -> float:
    """utime (14th field) + stime (15th) of a stat line, clock ticks of ``tick`` per second."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def _tree_pids(root: int) -> set[int]:
    seen, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack += children(pid)
    return seen


def tree_rss_bytes(root: int) -> int:
    total, stack, page = 0, [root], os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        stack += children(pid)
    return total


def _warm_drivers() -> list[int]:
    """The local warm Spark drivers (their JVMs are their children): a Clean the command runs on one of them
    uses that memory too, though the driver is not the command's child."""
    from covid_pipeline.adapters.local.warm_spark import driver_pids

    return driver_pids()


class PeakRss:
    """Samples the tree under ``pid`` (and the warm Spark drivers' trees) every ``interval`` seconds until
    stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            roots = {self.pid, *_warm_drivers()}
            # A driver the command started is also in its tree: each process is counted once.
            under_command = _tree_pids(self.pid)
            total = tree_rss_bytes(self.pid) + sum(
                tree_rss_bytes(p) for p in roots - {self.pid} if p not in under_command
            )
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measured:
    """A finished child process: its exit code, output, wall seconds and the sampler's readings."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    usage: PeakRss


def run_measured(
    argv: list[str], env: dict[str, str] | None = None, usage: type[PeakRss] = PeakRss, keep_stdout: bool = False
) -> Measured:
    """Run ``argv`` to completion while ``usage`` samples its process tree (stdout dropped unless kept)."""
    started = time.perf_counter()
    stdout = subprocess.PIPE if keep_stdout else subprocess.DEVNULL
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env)
    with usage(proc.pid) as sampler:
        out, err = proc.communicate()
    return Measured(proc.returncode, out or "", err, time.perf_counter() - started, sampler)
