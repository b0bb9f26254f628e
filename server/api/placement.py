"""Where a request's database work runs: on the event loop, or in a worker thread.

SQLite takes one writer at a time, and each of its calls drops and retakes the
GIL: run from a pool of threads, writes spend more time handing the GIL between
threads than in SQLite (1.5x fewer trials/s in bench/throughput). So on SQLite
the hot writes run on the event loop, unless they call a policy that is not
``fast``, or the database is busy: then they wait in a thread, never on the
loop. PostgreSQL work waits on the network and always goes to the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from tunehub.server.flows.ask import known_policy_speed, policy_is_fast
from tunehub.server.store.engine import is_sqlite
from tunehub.server.store.transactions import WouldBlock, without_waiting

T = TypeVar("T")


async def run_db(
    engine: Engine, work: Callable[[], T], *, study_id: int | None = None, heavy: bool = False
) -> T:
    """Run ``work``; ``study_id`` names the study whose policy ``work`` may call, ``heavy``
    says the work is large whatever the policy (a body of megabytes to store)."""
    if heavy or not is_sqlite(engine):
        return await run_in_threadpool(work)
    fast: bool | None = True
    if study_id is not None:
        fast = known_policy_speed(study_id)
        if fast is None:
            fast = await run_in_threadpool(policy_is_fast, engine, study_id)
        if fast is None:
            return await run_in_threadpool(work)  # no such study: the work answers 404
    if fast:
        try:
            with without_waiting():
                return work()
        except WouldBlock:
            pass  # another writer holds SQLite: wait for it in a thread, not on the loop
    return await run_in_threadpool(work)
