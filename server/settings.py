"""Server settings from the environment."""

from __future__ import annotations

import os

from tunehub.server.store.engine import DEFAULT_DATABASE_URL


def database_url() -> str:
    return os.environ.get("TUNEHUB_DATABASE_URL") or DEFAULT_DATABASE_URL


def sweep_seconds() -> float:
    """How often the server fails trials whose heartbeat expired (``TUNEHUB_SWEEP_SECONDS``)."""
    return float(os.environ.get("TUNEHUB_SWEEP_SECONDS") or 10.0)
