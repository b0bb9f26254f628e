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


DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


def _listed(name: str) -> list[str]:
    return [item.strip() for item in (os.environ.get(name) or "").split(",") if item.strip()]


def allowed_hosts() -> list[str] | None:
    """Host names the server answers to; ``None`` for any.

    ``TUNEHUB_ALLOWED_HOSTS`` when set (``*`` for any); otherwise loopback names when
    ``tunehub server`` listens on loopback (``TUNEHUB_BIND_HOST``), else any.
    """
    from tunehub.cli import LOOPBACK_NAMES, is_loopback

    listed = _listed("TUNEHUB_ALLOWED_HOSTS")
    if listed:
        return None if "*" in listed else listed
    bind = os.environ.get("TUNEHUB_BIND_HOST")
    if bind is not None and is_loopback(bind):
        return sorted({"127.0.0.1", "::1", *LOOPBACK_NAMES, bind.lower()})
    return None


def cors_origins() -> list[str]:
    """Web origins other than the server's own that may call the API (``TUNEHUB_CORS_ORIGINS``)."""
    return _listed("TUNEHUB_CORS_ORIGINS")


def max_body_bytes() -> int:
    return int(os.environ.get("TUNEHUB_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
