"""The OpenAPI document says every error the API can answer, and in which format.

FastAPI documents a route's success and its 422 as ``application/json``; every
error here is ``application/problem+json`` (``Problem``), and auth, guards and a
lost database add 401, 403, 413, 421 and 503 to any route. A client generated
from this schema, or a fuzzer checking answers against it, sees them all.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from tunehub.schema import Problem
from tunehub.server.api import bodies
from tunehub.server.api.auth import needed_scope
from tunehub.server.api.problems import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
EVERYWHERE = {
    401: "No API key, or one the server does not know",
    403: "The key's scope does not cover this request, or a cross-site origin",
    413: "The request body is over the server's limit",
    421: "The server does not answer to this host name",
    422: "Invalid input: each error names its field",
    503: "The database cannot be reached: retry after Retry-After seconds",
}
WITH_PATH_ID = {404: "No such study, trial or key"}
CHANGES = {409: "Conflicts with what is stored (the message says how to resolve it)"}
WITH_BODY = {
    400: "The body is not UTF-8 text",
    415: "The body is not sent as JSON (Content-Type: application/json)",
}
BEARER = "bearerKey"


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _document_bodies(schema)
            _document_problems(schema)
            _document_keys(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_bodies(schema: dict[str, Any]) -> None:
    """The schemas of bodies routes parse themselves (``bodies.json_body``)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    models = sorted(bodies.DOCUMENTED, key=lambda m: m.__name__)
    _, definitions = models_json_schema(
        [(model, "validation") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    for name, definition in definitions.get("$defs", {}).items():
        components.setdefault(name, definition)


def _document_keys(schema: dict[str, Any]) -> None:
    """Bearer keys: optional on a server without keys, except to manage keys."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key ('tunehub keys create'); required once a key exists.",
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            needed = needed_scope(method.upper(), path)
            if needed is None:
                continue
            required = path.startswith("/api/v1/keys")
            operation["security"] = [{BEARER: []}] if required else [{BEARER: []}, {}]


def _document_problems(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            errors = dict(EVERYWHERE)
            if "{" in path:
                errors.update(WITH_PATH_ID)
            if method != "get":
                errors.update(CHANGES)
            if "requestBody" in operation:
                errors.update(WITH_BODY)
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses[str(status)] = {
                    "description": description,
                    "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
                }
            responses["503"]["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
