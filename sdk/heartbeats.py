"""A background thread that keeps a client's running trials alive."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tunehub.errors import ConflictError, NotFoundError


class Heartbeats:
    """Heartbeats every registered trial at its interval until it is removed.

    One daemon thread per client, started on the first trial. A trial the server
    no longer considers running (409) or that vanished (404) is dropped; other
    failures are retried at the next beat, since the server's grace period is
    several intervals long.
    """

    def __init__(self, beat: Callable[[int], None]) -> None:
        self._beat = beat
        self._due: dict[int, tuple[float, float]] = {}  # trial id -> (next time, interval)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._next_wake = float("inf")  # when the thread wakes next, as it last decided

    def add(self, trial_id: int, interval: float) -> None:
        due = time.monotonic() + interval
        with self._lock:
            self._due[trial_id] = (due, interval)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="tunehub-heartbeats", daemon=True
                )
                self._thread.start()
            # Waking the thread costs a thread switch per ask: only when it sleeps too long.
            wake = due < self._next_wake
        if wake:
            self._wake.set()

    def remove(self, trial_id: int) -> None:
        with self._lock:
            self._due.pop(trial_id, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._due.clear()
        self._wake.set()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                now = time.monotonic()
                ready = [tid for tid, (at, _) in self._due.items() if at <= now]
            for trial_id in ready:
                self._beat_one(trial_id)
            with self._lock:
                self._wake.clear()
                self._next_wake = min(
                    (at for at, _ in self._due.values()), default=time.monotonic() + 60.0
                )
            self._wake.wait(timeout=max(0.0, self._next_wake - time.monotonic()))

    def _beat_one(self, trial_id: int) -> None:
        try:
            self._beat(trial_id)
        except (ConflictError, NotFoundError):
            self.remove(trial_id)
            return
        except Exception:
            pass
        with self._lock:
            if trial_id in self._due:
                _, interval = self._due[trial_id]
                self._due[trial_id] = (time.monotonic() + interval, interval)
