"""Asks tell the heartbeat sweeper about short graces, so it need not poll often.

The sweeper scans running trials every ``TUNEHUB_SWEEP_SECONDS``; a study whose
grace is shorter than that needs sweeps sooner. An ask that hands out such a
study's trials wakes the sweeper, which then sweeps at a quarter of the grace.
"""

from __future__ import annotations

import threading

wake = threading.Event()
_shortest: list[float] = []  # at most one item: the shortest grace asked for


def expect_grace(grace: float) -> None:
    if not _shortest or grace < _shortest[0]:
        _shortest[:] = [grace]
        wake.set()


def shortest_expected() -> float | None:
    return _shortest[0] if _shortest else None
