"""Every error as ``application/problem+json`` (RFC 9457), naming the field and the fix."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from tunehub.schema import Problem
from tunehub.server.errors import DatabaseUnavailable, TunehubError
from tunehub.server.store.transactions import is_unreachable

log = logging.getLogger("tunehub.server")

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 2
_PARAM_TYPES = {"float", "int", "categorical"}
_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> JSONResponse:
    body = Problem(
        title=title,
        status=status,
        detail=printable(detail),
        errors=[{k: printable(v) for k, v in e.items()} for e in errors or []],
    )
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_JSON)


def printable(text: str) -> str:
    """``text`` as valid Unicode: a message quoting what a client sent may quote an
    unpaired surrogate (``\\ud800``), which no answer can carry; it is shown escaped."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
    for name, value in _headers_for(exc.status):
        response.headers[name.decode()] = value.decode()
    return response


def _headers_for(status: int) -> list[tuple[bytes, bytes]]:
    """What a client needs beside the problem: how to authenticate, when to come back."""
    if status == 401:
        return [(b"www-authenticate", b'Bearer realm="tunehub"')]
    if status == 503:
        return [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
    return []


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
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path: Starlette names only the first
    route that matched, and each of our methods is its own route."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "Internal error", f"{type(exc).__name__}: the server logged the details")


def install(app: FastAPI) -> None:
    """Handlers for the errors routes raise. Anything else is answered by ``Shield``."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(TunehubError, _tunehub_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)


async def send_problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer with a problem from a pure ASGI middleware."""
    body = Problem(title=title, status=status, detail=detail).model_dump_json().encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Shield:
    """The outermost of our middlewares: an error nothing else handled becomes a 500
    problem, and the exception stops here. Starlette's own last handler answers too,
    but then re-raises to the server, which drops the keep-alive connection without
    saying so: the client's next request on it would fail."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            if isinstance(error, DBAPIError) and is_unreachable(error):
                error = DatabaseUnavailable("the database cannot be reached: try again shortly")
            if isinstance(error, TunehubError) and not started:
                # Raised before a route ran (a key check reads the database): the same
                # answer a route's error gets, 503 with Retry-After included.
                headers = _headers_for(error.status)
                await send_problem(
                    send, error.status, error.title, printable(error.detail), headers
                )
                return
            log.error(
                "unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=error
            )
            if started:
                raise  # half an answer is out: only closing the connection can end it
            detail = f"{type(error).__name__}: the server logged the details"
            await send_problem(send, 500, "Internal error", detail)
