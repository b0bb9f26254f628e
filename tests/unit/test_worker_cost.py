"""What cost a worker tells: the unit the study declares."""

from __future__ import annotations

from tunehub.schema import Cost, CostUnit
from tunehub.workers.driver import measured_cost


def test_the_worker_counts_the_declared_unit() -> None:
    assert measured_cost(None, 12.5, 2.0) == 12.5
    assert measured_cost(Cost(), 12.5, 2.0) == 12.5
    assert measured_cost(Cost(unit=CostUnit.GPU_SECONDS), 12.5, 2.0) == 25.0
    assert measured_cost(Cost(unit=CostUnit.GPU_SECONDS), 12.5, 0.0) == 12.5  # a CPU-only run
    assert measured_cost(Cost(unit=CostUnit.TOLD, max=10), 12.5, 1.0) is None
