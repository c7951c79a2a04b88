"""A warm local Spark for Glue scripts: one long-lived driver runs job after job, so a small batch does not
pay a JVM start and the JIT's warm-up every time (a one-day Clean: ~30 s cold, ~16 s on a warm driver).

* **Started on first use** by the local job runner, detached (its own process group), and **stopped** after
  ``COVID_PIPELINE_WARM_SPARK_IDLE`` seconds without a job (default 600), or by ``covid-pipeline spark stop``.
  Its JVM is PySpark's child and exits when the driver process ends (PySpark's gateway watches its stdin):
  nothing is left behind once the driver is gone.
* **One job at a time.** A job that finds it busy (another execution's Clean) waits for it up to
  ``COVID_PIPELINE_WARM_SPARK_WAIT`` seconds (default 60), then runs cold in a process of its own, as without
  a warm driver: two executions at once both go on. Waiting is the cheaper way on a small machine: a small
  job takes 5-16 s on the warm driver and ~35 CPU-s cold, CPU it takes from the job it would not wait for
  (four uploads at once, `python -m bench.reliability`: 47.8 s cold but the first, 26.0 s waiting).
* **Keyed by the code it runs.** The script's folder (glue/: the script, covid_transforms) and the
  covid_pipeline package are fingerprinted (path, size, mtime of every file): after an edit the next job
  starts a new driver, and the stale one is asked to stop.
* **Fewer round trips.** The driver keeps what py4j looked up in the JVM (jvm_lookups.py): the same queries,
  built with fewer calls.
* **No class compiled twice.** Spark keeps the classes it generates for a query's operators and expressions,
  by their source text, in a cache "all jobs share" (``spark.sql.codegen.cache.maxEntries``, a static
  setting, 100 by default). A small Clean generates 380-460, so with the default each job compiled them all
  again (Janino, then the JIT on the new classes); with CODEGEN_CACHE_ENTRIES the next job of the same shape
  compiles next to none. Each job's log says how many it compiled.
* **Same job as cold.** The script's own ``main(argv, spark)`` runs, on ``spark.newSession()`` (its own SQL
  settings and temporary views) with the job's SQL settings; its stdout is the job's summary, as cold; the
  cache is cleared after every job. tests/integration/test_warm_spark.py compares the tables row for row.

``COVID_PIPELINE_WARM_SPARK=0`` turns it off; ``COVID_PIPELINE_SPARK_DIR`` moves its sockets and logs
(default ``$XDG_RUNTIME_DIR`` or the temp folder, ``covid-pipeline-<uid>/``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IDLE_SECONDS = 600
WAIT_SECONDS = 60  # longer than a small job takes on the warm driver; a queue longer than that goes cold
# Generated classes kept for the next jobs: a Clean of one shape compiles 380-460, different shapes share many.
CODEGEN_CACHE_ENTRIES = 4096
START_TIMEOUT_S = 180  # a JVM start on a loaded 2-core machine
_MAX_MESSAGE = 64 * 2**20


def enabled() -> bool:
    return os.environ.get("COVID_PIPELINE_WARM_SPARK", "1").strip().lower() not in {"0", "false", "no", "off"}


def state_dir() -> Path:
    given = os.environ.get("COVID_PIPELINE_SPARK_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"covid-pipeline-{os.getuid()}"


def _seconds(variable: str, default: float) -> float:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{variable} must be a number of seconds, not {text!r}") from None
    if not value >= 0:  # also NaN
        raise ValueError(f"{variable} must be a number of seconds, 0 or more, not {text!r}")
    return value


def idle_seconds() -> float:
    return _seconds("COVID_PIPELINE_WARM_SPARK_IDLE", IDLE_SECONDS)


def wait_seconds() -> float:
    return _seconds("COVID_PIPELINE_WARM_SPARK_WAIT", WAIT_SECONDS)


def fingerprint(script: Path, spark_args: str) -> str:
    """What the driver's loaded code and settings depend on: every file of the script's folder and of
    covid_pipeline (path, size, mtime), the Spark arguments and the interpreter."""
    import covid_pipeline

    digest = hashlib.sha256(f"{sys.executable}\0{spark_args}\0{script.resolve()}".encode())
    for root in (script.resolve().parent, Path(covid_pipeline.__file__).resolve().parent):
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class WarmResult:
    exit_code: int
    stdout: str
    driver_pid: int
    started_driver: bool  # this job started the driver (it paid the cold start)


class Busy(Exception):
    """The warm driver runs another job."""


# -- client -----------------------------------------------------------------------------------------------


def _send(sock: socket.socket, message: Mapping[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def _receive(sock: socket.socket) -> dict[str, Any]:
    chunks = []
    size = 0
    while not chunks or not chunks[-1].endswith(b"\n"):
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the warm Spark driver closed the connection")
        chunks.append(chunk)
        size += len(chunk)
        if size > _MAX_MESSAGE:
            raise ConnectionError("the warm Spark driver's answer is too large")
    return dict(json.loads(b"".join(chunks)))


def _connect(path: Path, timeout: float | None = None) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


@contextlib.contextmanager
def _flock(path: Path, blocking: bool, wait_s: float = 0) -> Iterator[bool]:
    """An exclusive lock on ``path``: waited for (``blocking``), else tried until ``wait_s`` have passed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    with path.open("a") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.1)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ask(path: Path, message: Mapping[str, Any], timeout: float = 5) -> dict[str, Any] | None:
    sock = _connect(path, timeout)
    if sock is None:
        return None
    with sock:
        try:
            _send(sock, message)
            return _receive(sock)
        except (OSError, ConnectionError, ValueError):
            return None


def drivers(directory: Path | None = None) -> list[dict[str, Any]]:
    """The warm drivers answering in ``directory``: pid, fingerprint, jobs run, idle seconds, socket."""
    found = []
    for path in sorted((directory or state_dir()).glob("spark-*.sock")):
        answer = _ask(path, {"ping": True})
        if answer is not None:
            found.append({**answer, "socket": str(path)})
    return found


def driver_pids(directory: Path | None = None) -> list[int]:
    """The pids the warm drivers in ``directory`` wrote (read without asking them: a busy driver answers
    nothing until its job ends); a measure of memory adds their process trees."""
    pids = []
    for path in (directory or state_dir()).glob("spark-*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(path.read_text()))
    return sorted(pids)


def stop(directory: Path | None = None, keep: str | None = None) -> list[int]:
    """Ask every warm driver in ``directory`` (but the one of fingerprint ``keep``) to stop after its job."""
    stopped = []
    for path in sorted((directory or state_dir()).glob("spark-*.sock")):
        if keep is not None and path.name == f"spark-{keep}.sock":
            continue
        answer = _ask(path, {"stop": True}, timeout=2)
        if answer is not None:
            stopped.append(int(answer["pid"]))
    return stopped


def _start_driver(script: Path, spark_args: str, sock_path: Path, log_path: Path) -> None:
    from covid_pipeline.adapters.local import class_archive
    from covid_pipeline.adapters.local.job_runner import spark_env

    # The JVM maps Spark's classes from the archive when `make setup` built it.
    env = spark_env(class_archive.submit_args(spark_args))
    with log_path.open("a") as log:
        driver = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "covid_pipeline.adapters.local.warm_spark", str(script), str(sock_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,  # outlives the command that started it; Ctrl-C there does not kill it
            close_fds=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _ask(sock_path, {"ping": True}) is not None:
            return
        if driver.poll() is not None:
            raise ConnectionError(f"the warm Spark driver ended at start (exit {driver.returncode}; log: {log_path})")
        time.sleep(0.2)
    raise TimeoutError(f"the warm Spark driver did not start in {START_TIMEOUT_S} s (log: {log_path})")


def run_job(
    script: Path,
    argv: list[str],
    sql_conf: Mapping[str, str],
    spark_args: str,
    log_path: Path,
    wait_s: float | None = None,
) -> WarmResult:
    """Run ``script``'s ``main(argv, spark)`` on the warm driver for this code (started when there is none).

    Raises Busy when the driver still runs another job after ``wait_s`` seconds (default wait_seconds();
    the caller runs the job cold).
    """
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = fingerprint(script, spark_args)
    sock_path = directory / f"spark-{key}.sock"
    wait_s = wait_seconds() if wait_s is None else wait_s
    with _flock(directory / f"spark-{key}.job.lock", blocking=False, wait_s=wait_s) as mine:
        if not mine:
            raise Busy(f"the warm Spark driver {key} still ran another job after {wait_s:g} s")
        started = False
        with _flock(directory / f"spark-{key}.start.lock", blocking=True):
            if _ask(sock_path, {"ping": True}) is None:
                stop(directory, keep=key)  # drivers of older code: nothing will use them again
                _start_driver(script, spark_args, sock_path, directory / f"spark-{key}.log")
                started = True
        sock = _connect(sock_path)
        if sock is None:
            raise ConnectionError(f"the warm Spark driver {key} is gone")
        with sock:
            _send(sock, {"argv": argv, "conf": dict(sql_conf), "log": str(log_path)})
            answer = _receive(sock)
    return WarmResult(int(answer["exit"]), str(answer["stdout"]), int(answer["pid"]), started)


# -- driver -----------------------------------------------------------------------------------------------


def _load_script(script: Path) -> Any:
    sys.path.insert(0, str(script.parent))  # as `python script.py` puts its folder first
    spec = importlib.util.spec_from_file_location(f"_warm_{script.stem}", script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _run_one(spark: Any, module: Any, request: Mapping[str, Any]) -> tuple[int, str]:
    session = spark.newSession()
    for name, value in request.get("conf", {}).items():
        session.conf.set(name, value)
    out = io.StringIO()
    compiled_before = _classes_compiled(spark)
    with open(request["log"], "a") as err, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        print(f"warm Spark driver pid {os.getpid()}: {request['argv'][:2]}", file=err, flush=True)
        try:
            code = int(module.main(list(request["argv"]), spark=session) or 0)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:
            traceback.print_exc(file=err)
            code = 1
        finally:
            spark.catalog.clearCache()  # nothing cached by one job is seen (or held) by the next
        compiled = _classes_compiled(spark) - compiled_before
        print(f"warm Spark driver pid {os.getpid()}: {compiled} generated classes compiled", file=err, flush=True)
    return code, out.getvalue()


def _classes_compiled(spark: Any) -> int:
    """Classes Spark's code generation compiled in this JVM so far (a miss of its cache each)."""
    return int(spark._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME().getCount())


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def serve(script: Path, sock_path: Path) -> int:
    from pyspark.sql import SparkSession

    from covid_pipeline.adapters.local.jvm_lookups import remember_jvm_lookups

    remember_jvm_lookups()  # a third of a warm job's round trips to the JVM were class and method lookups
    builder = SparkSession.builder.appName("covid-pipeline-warm")
    spark = builder.config("spark.sql.codegen.cache.maxEntries", str(CODEGEN_CACHE_ENTRIES)).getOrCreate()
    module = _load_script(script)
    tmp = sock_path.with_name(sock_path.name + f".{os.getpid()}")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp))
    os.chmod(tmp, 0o600)
    server.listen(16)
    os.replace(tmp, sock_path)  # answers only once the session is up
    mine = sock_path.stat().st_ino
    pid_file = sock_path.with_suffix(".pid")
    pid_file.write_text(str(os.getpid()))
    idle = idle_seconds()
    jobs = 0
    last = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as the idle timeout
    try:
        while True:
            server.settimeout(max(0.1, idle - (time.monotonic() - last)))
            try:
                conn, _ = server.accept()
            except TimeoutError:
                break  # idle
            with conn:
                conn.settimeout(None)
                try:
                    request = _receive(conn)
                except (OSError, ConnectionError, ValueError):
                    continue
                if request.get("ping"):
                    _send(conn, {"pid": os.getpid(), "jobs": jobs, "idle_s": round(time.monotonic() - last, 1)})
                    continue
                if request.get("stop"):
                    _send(conn, {"pid": os.getpid()})
                    break
                code, stdout = _run_one(spark, module, request)
                jobs += 1
                last = time.monotonic()
                with contextlib.suppress(OSError):
                    _send(conn, {"exit": code, "stdout": stdout, "pid": os.getpid()})
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(OSError):
            if sock_path.stat().st_ino == mine:  # never the socket of a driver started after this one
                sock_path.unlink()
        with contextlib.suppress(OSError):
            if pid_file.read_text() == str(os.getpid()):
                pid_file.unlink()
        server.close()
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1]), Path(sys.argv[2])))
