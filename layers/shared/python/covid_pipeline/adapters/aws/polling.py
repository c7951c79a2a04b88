"""The one polling loop of the AWS adapters: poll until done, with a deadline that stops the work.

Time budget of one statement (the template's arithmetic is tested in tests/infra/test_timeouts.py):

    QUERY_TIMEOUT_SECONDS      polling until the deadline, then stop()  (CancelStatement / StopQueryExecution)
  + SETTLE_SECONDS             polling on until the engine says how the stopped work ended
  + REPORT_MARGIN_SECONDS      the handler's remaining calls and its answer to Step Functions
  <= the function's Timeout    so Lambda never kills the function while the work may still commit
  <  the task's TimeoutSeconds so Step Functions reports the function's own outcome, not States.Timeout

Stopping is asynchronous on both engines: a Redshift batch already committing, or an Athena query
already writing, may still finish. So after stop() the loop keeps polling for SETTLE_SECONDS and, if
the work did complete (``succeeded``), returns it instead of reporting a failure that did not happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from covid_pipeline.ports import EngineError

log = logging.getLogger(__name__)
T = TypeVar("T")

SETTLE_SECONDS = 30.0
REPORT_MARGIN_SECONDS = 60.0
DEFAULT_QUERY_TIMEOUT_SECONDS = 780.0  # = 900 s (the functions' Timeout) - settle - report margin


def poll_until(
    fetch: Callable[[], T],
    finished: Callable[[T], bool],
    *,
    what: str,
    state_of: Callable[[T], object],
    stop: Callable[[], None],
    stopped: str = "stopped",
    timeout_s: float,
    interval_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    succeeded: Callable[[T], bool] = lambda _: False,
    settle_s: float = SETTLE_SECONDS,
) -> T:
    """``fetch()`` until ``finished``; past ``timeout_s`` call ``stop()`` (best effort), poll up to ``settle_s``
    more for the outcome, and raise EngineError unless the work turned out ``succeeded`` after all
    (``stopped`` names what stop() did, in the engine's own word).
    """
    deadline = clock() + timeout_s
    while True:
        current = fetch()
        if finished(current):
            return current
        if clock() >= deadline:
            break
        sleep(interval_s)
    try:
        stop()
    except Exception as exc:  # the timeout is the error worth reporting, not the clean-up
        log.warning("could not stop %s: %s", what, exc)
    settle_until = clock() + settle_s
    while not finished(current) and clock() < settle_until:
        sleep(interval_s)
        current = fetch()
    if finished(current) and succeeded(current):
        log.warning("%s finished after its deadline, before the stop took effect: reporting its result", what)
        return current
    raise EngineError(f"{what} did not finish within {timeout_s:g} s (last state {state_of(current)}); {stopped}")
