"""The one polling loop of the AWS adapters: poll until done, with a deadline that stops the work."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from covid_pipeline.ports import EngineError

log = logging.getLogger(__name__)
T = TypeVar("T")


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
) -> T:
    """``fetch()`` until ``finished``; past ``timeout_s`` call ``stop()`` (best effort) and raise EngineError
    (``stopped`` names what stop() did, in the engine's own word).

    Stopping matters: a query or batch left running could still write or commit after
    the caller has reported it failed.
    """
    deadline = clock() + timeout_s
    while True:
        current = fetch()
        if finished(current):
            return current
        if clock() >= deadline:
            try:
                stop()
            except Exception as exc:  # the timeout is the error worth reporting, not the clean-up
                log.warning("could not stop %s: %s", what, exc)
            raise EngineError(
                f"{what} did not finish within {timeout_s:g} s (last state {state_of(current)}); {stopped}"
            )
        sleep(interval_s)
