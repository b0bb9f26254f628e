"""Asks tell the heartbeat sweeper about short graces, so it need not poll often.

The sweeper scans running trials every ``TUNEHUB_SWEEP_SECONDS``, or at a quarter
of the shortest grace among them. A study whose trials were just handed out may
not be in its last scan: an ask whose grace calls for sweeps sooner than the
sweeper's current wait wakes it, once, and hands it that grace for its next wait.
"""

from __future__ import annotations

import math
import threading

MIN_WAIT_SECONDS = 0.25

wake = threading.Event()
current_wait = math.inf
"""Seconds the sweeper waits now between sweeps (it sets this after each sweep)."""
_expected: float | None = None


def wait_for(grace: float) -> float:
    """How often to sweep for a grace: a dead worker's trial fails within a quarter past it."""
    return max(MIN_WAIT_SECONDS, grace / 4)


def expect_grace(grace: float) -> None:
    global _expected
    if wait_for(grace) < current_wait and (_expected is None or grace < _expected):
        _expected = grace
        wake.set()


def take_expected() -> float | None:
    """The shortest grace asks announced since the last call, and forget it."""
    global _expected
    grace, _expected = _expected, None
    return grace
