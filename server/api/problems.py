"""Every error as ``application/problem+json`` (RFC 9457), naming the field and the fix."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from tunehub.schema import Problem
from tunehub.server.errors import DatabaseUnavailable, TunehubError
from tunehub.server.store.transactions import is_unreachable

log = logging.getLogger("tunehub.server")

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 2
_PARAM_TYPES = {"float", "int", "categorical"}


def problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, errors=errors or [])
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_JSON)


def field_of(loc: Sequence[Any]) -> str:
    """``("body", "space", "C", "float", "low")`` -> ``"space.C.low"``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    if len(parts) > 2 and parts[0] == "space" and parts[2] in _PARAM_TYPES:
        del parts[2]
    return ".".join(parts) or "body"


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    prefix = "Value error, "
    return message[len(prefix) :] if message.startswith(prefix) else message


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": field_of(e.get("loc", ())), "message": _message(e)} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Invalid input", detail, errors)


async def _tunehub_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TunehubError)
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else []
    response = problem(exc.status, exc.title, exc.detail, errors)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tunehub"'
    if exc.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database error outside the retried transactions: 503 when the database is out
    of reach (the client should retry), 500 for anything else."""
    if is_unreachable(exc):
        return await _tunehub_error(
            request, DatabaseUnavailable("the database cannot be reached: try again shortly")
        )
    return await _unexpected(request, exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such endpoint: {request.method} {request.url.path}; see /docs"
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "Unreadable body: send JSON as UTF-8 text"
    response = problem(exc.status_code, detail.split(":")[0], detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal error", f"{type(exc).__name__}: the server logged the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(TunehubError, _tunehub_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
