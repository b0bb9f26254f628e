"""Server settings from the environment."""

from __future__ import annotations

import os

from tunehub.server.store.engine import DEFAULT_DATABASE_URL


def database_url() -> str:
    return os.environ.get("TUNEHUB_DATABASE_URL") or DEFAULT_DATABASE_URL


def sweep_seconds() -> float:
    """How often the server fails trials whose heartbeat expired (``TUNEHUB_SWEEP_SECONDS``)."""
    return float(os.environ.get("TUNEHUB_SWEEP_SECONDS") or 10.0)


def auth_always() -> bool:
    """Whether keys are required even before the first one exists (``TUNEHUB_AUTH=on``)."""
    return (os.environ.get("TUNEHUB_AUTH") or "").strip().lower() in ("1", "on", "true", "yes")
