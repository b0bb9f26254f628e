"""Errors the SDK raises: one type per kind of answer, each carrying the server's problem."""

from __future__ import annotations

from typing import Any


class TunehubError(Exception):
    """The server refused a request; ``status``, ``detail`` and ``errors`` come from it."""

    def __init__(
        self, status: int, detail: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.errors = errors or []


class NotFoundError(TunehubError):
    pass


class ConflictError(TunehubError):
    pass


class InvalidError(TunehubError):
    pass


class ServerUnavailable(Exception):
    """The server could not be reached, or kept answering 5xx, within the retry budget."""


class NothingToRun(Exception):
    """The policy has no trial to hand out until running ones finish (the rest of a race,
    say): tell a running trial, or ask again shortly."""


class TrialPruned(Exception):
    """Raise inside ``with study.ask() as trial`` to tell the trial ``pruned``."""


def error_for(status: int, body: Any) -> TunehubError:
    detail = str(body.get("detail", body)) if isinstance(body, dict) else str(body)
    errors = body.get("errors", []) if isinstance(body, dict) else []
    cls = {404: NotFoundError, 409: ConflictError, 422: InvalidError}.get(status, TunehubError)
    return cls(status, detail, errors)
