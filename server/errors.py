"""Errors the flows raise; the API turns each into an ``application/problem+json`` answer."""

from __future__ import annotations


class TunehubError(Exception):
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(TunehubError):
    status = 404
    title = "Not found"


class Conflict(TunehubError):
    status = 409
    title = "Conflict"


class Invalid(TunehubError):
    """Well-formed JSON that does not fit the study (a value outside the space, ...)."""

    status = 422
    title = "Invalid input"


class Unauthorized(TunehubError):
    """No API key, or one the server does not know (answered with ``WWW-Authenticate``)."""

    status = 401
    title = "Unauthorized"


class Forbidden(TunehubError):
    """A known key whose scope does not cover the request."""

    status = 403
    title = "Forbidden"


class DatabaseUnavailable(TunehubError):
    """The database stayed out of reach past the server's own retries (answered with
    ``Retry-After``: the SDK waits and tries again)."""

    status = 503
    title = "Service unavailable"
