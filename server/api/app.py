"""The FastAPI application."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import tunehub
from tunehub.server import dashboard
from tunehub.server.api import docs, openapi, problems
from tunehub.server.api.auth import Gate, KeyCheck
from tunehub.server.api.guards import Guards
from tunehub.server.api.routes import incumbent, keys, studies, trials
from tunehub.server.flows.sweeper import Sweeper
from tunehub.server.settings import (
    allowed_hosts,
    auth_always,
    cors_origins,
    database_url,
    max_body_bytes,
    sweep_seconds,
)
from tunehub.server.store.engine import is_sqlite, make_engine
from tunehub.server.store.migrate import ensure_current


def create_app(url: str | None = None) -> FastAPI:
    """Build the app on ``url`` (default ``TUNEHUB_DATABASE_URL``).

    SQLite migrates itself; any other database must already be at the current
    schema (``tunehub db upgrade``), otherwise ``SchemaOutOfDate`` is raised.
    """
    engine = make_engine(url or database_url())
    ensure_current(engine, auto_upgrade=is_sqlite(engine))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Requests allocate many short-lived objects and few cycles: collect the
        # youngest generation less often, and keep start-up objects out of every scan.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        sweeper = Sweeper(engine, sweep_seconds())
        sweeper.start()
        try:
            yield
        finally:
            sweeper.stop()
            engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        # A path either names a route or is a 404: no redirect for a path a client
        # (or a traversal probe) made up with a trailing slash.
        redirect_slashes=False,
        # /docs and /redoc come from the package (docs.install), not from a CDN.
        docs_url=None,
        redoc_url=None,
        title="Tunehub",
        version=tunehub.__version__,
        description="Hyperparameter optimization as a service: studies, trials, ask and tell.",
    )
    app.state.engine = engine
    app.state.gate = gate = Gate(engine, always=auth_always())
    problems.install(app)
    openapi.install(app)
    # Every /api/v1 route but health needs a key once keys are on (KeyCheck, below).
    app.include_router(studies.router, prefix="/api/v1")
    app.include_router(trials.router, prefix="/api/v1")
    app.include_router(incumbent.router, prefix="/api/v1")
    app.include_router(keys.router, prefix="/api/v1")

    @app.get("/api/v1/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": tunehub.__version__}

    # Load balancers probe with HEAD.
    app.add_api_route("/api/v1/health", health, methods=["HEAD"], include_in_schema=False)

    dashboard.install(app)
    docs.install(app)
    # Middlewares, innermost first: the key is checked before any body is read; CORS
    # answers preflights and marks refusals too; the guards refuse other hosts, foreign
    # origins and oversized bodies first; the shield turns any other error into a 500
    # problem on a connection that stays usable.
    app.add_middleware(KeyCheck, gate=gate)
    origins = cors_origins()
    if origins:
        # Keys travel in a header, never a cookie: no credentials, so no '*' with them.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
        )
    app.add_middleware(Guards, hosts=allowed_hosts(), origins=origins, max_body=max_body_bytes())
    app.add_middleware(problems.Shield)
    return app
