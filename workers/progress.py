"""The worker's progress line: trials done, running and failed, and the best value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tqdm import tqdm

if TYPE_CHECKING:
    from tunehub.workers.driver import Summary


class Progress:
    def __init__(self, *, total: int | None, enabled: bool, direction: str) -> None:
        # disable=None: a bar on a terminal, nothing in logs and pipes.
        self._bar = tqdm(
            total=total, unit="trial", disable=None if enabled else True, dynamic_ncols=True
        )
        self._done = 0
        self._direction = direction
        self._postfix = ""

    def update(self, summary: Summary, *, running: int) -> None:
        done = summary.completed + summary.failed + summary.pruned + summary.stopped
        best = "-" if summary.best is None else f"{summary.best:.6g}"
        postfix = (
            f"running={running} failed={summary.failed} pruned={summary.pruned} "
            f"best({self._direction})={best}"
        )
        if done == self._done and postfix == self._postfix:
            return
        self._postfix = postfix
        self._bar.set_postfix_str(postfix, refresh=False)
        self._bar.update(done - self._done)
        self._done = done

    def write(self, message: str) -> None:
        tqdm.write(message)

    def close(self) -> None:
        self._bar.close()
