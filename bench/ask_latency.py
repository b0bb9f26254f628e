"""Single-ask latency of one Tunehub study as it grows.

A cheap policy's ask must stay flat as the study grows (DESIGN.md, "The policy
interface"): this grows one study to each size and times single asks there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import tunehub
from bench.load_clients import objective

GROW_BATCH = 1000  # the API's largest ask
GROW_THREADS = 8


@dataclass(frozen=True)
class LatencyPoint:
    size: int
    """Completed trials in the study when the measured asks began."""
    asks: int
    p50_ms: float
    p99_ms: float
    mean_ms: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100): an observed value, no interpolation."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def measure_growth(study: tunehub.Study, sizes: Sequence[int], asks: int) -> list[LatencyPoint]:
    """At each size, time ``asks`` single asks (each then told, so the study keeps growing).

    The time is what an SDK user waits for ``study.ask()``: client-side request
    building and parsing included. Growing uses batched asks and parallel tells,
    which is faster than one-by-one and leaves the same completed trials behind.
    """
    completed = 0
    points: list[LatencyPoint] = []
    with ThreadPoolExecutor(GROW_THREADS) as pool:
        for size in sorted(sizes):
            while completed < size:
                batch = study.ask_batch(min(GROW_BATCH, size - completed))
                list(pool.map(lambda t: t.tell(objective(t.params)), batch))
                completed += len(batch)
            samples: list[float] = []  # a small gap between sizes may overshoot one
            for _ in range(asks):
                start = time.perf_counter()
                trial = study.ask()
                samples.append((time.perf_counter() - start) * 1000)
                trial.tell(objective(trial.params))
            points.append(
                LatencyPoint(
                    size=completed,
                    asks=asks,
                    p50_ms=percentile(samples, 50),
                    p99_ms=percentile(samples, 99),
                    mean_ms=sum(samples) / len(samples),
                )
            )
            completed += asks
    return points
