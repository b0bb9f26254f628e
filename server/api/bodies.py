"""Request bodies: read once the key is checked, parsed and validated off the event
loop when they are large.

A body FastAPI declares is parsed and validated on the event loop before the
route runs: a study with thousands of choices or a tell with megabytes of metrics
would stall every other request meanwhile. Routes take ``json_body(Model)``
instead; bodies up to ``INLINE_BYTES`` (nearly all of them) are still handled
inline, where a thread hop would cost more than the parse. ``request_body(Model)``
documents the body in the OpenAPI schema exactly as a declared one would be.
"""

from __future__ import annotations

import email.message
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from tunehub.server.api.json_shape import ShapeError, check_shape

INLINE_BYTES = 64 * 1024

M = TypeVar("M", bound=BaseModel)

DOCUMENTED: set[type[BaseModel]] = set()
"""Models taken as bodies; the OpenAPI document lists their schemas."""


@functools.cache
def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency answering the request's body as a validated ``model``."""

    async def parse(request: Request) -> M:
        raw = await request.body()
        _check_media_type(request.headers.get("content-type"))
        if len(raw) <= INLINE_BYTES:
            return validated(model, raw)
        request.state.large_body = True
        return await run_in_threadpool(validated, model, raw)

    return parse


def was_large(request: Request) -> bool:
    """Whether the body was past ``INLINE_BYTES``: what the route does with it (store it,
    answer it back) should run in a thread too."""
    return bool(getattr(request.state, "large_body", False))


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route taking ``json_body(model)``."""
    DOCUMENTED.add(model)
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def validated(model: type[M], raw: bytes) -> M:
    """Parse and validate ``raw``; errors are the 4xx answers that name the field."""
    if not raw.strip():
        raise _invalid((), "the body is empty: send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "Unreadable body: send JSON as UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise _invalid((), f"the body is not JSON ({error.msg} at {where})") from None
    except RecursionError:
        data = _too_deep(raw)
    except ValueError as error:  # an integer of more than 4,300 digits, for one
        raise _invalid((), f"the body cannot be read as JSON: {error}"[:300]) from None
    try:
        check_shape(data)
    except ShapeError as error:
        raise _invalid((error.field,), str(error)) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = [
            {**e, "loc": ("body", *e["loc"])}
            for e in error.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise RequestValidationError(errors) from None


def _too_deep(raw: bytes) -> Any:
    """A body too deep for Python's parser: parsed by orjson (which goes to 1,024 levels
    without recursing in Python) only so that the refusal can name the field."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _invalid((), "the body is nested too deeply to parse: flatten it") from None


def _check_media_type(value: str | None) -> None:
    """JSON, or no type at all. A browser's cross-site form can send only form or plain
    text bodies without asking first, so those are never taken as JSON."""
    if value is None:
        return
    message = email.message.Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    if message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    ):
        return
    raise HTTPException(
        415,
        f"Unsupported media type: the body must be JSON, sent with "
        f"'Content-Type: application/json' (not {value[:80]!r})",
    )


def _invalid(loc: tuple[str, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body", *loc), "msg": message}])
