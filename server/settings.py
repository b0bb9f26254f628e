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


GIVEN_KEYS = {"TUNEHUB_ADMIN_KEY": "admin", "TUNEHUB_WRITE_KEY": "write"}
"""Keys whoever deploys the server may give it, by variable, and the scope each gets."""


def given_keys() -> list[tuple[str, str]]:
    """``(key, scope)`` for each of ``GIVEN_KEYS`` set, directly or as ``<NAME>_FILE``:
    the first line of a file (a container secret). The server makes them live at start."""
    found: list[tuple[str, str]] = []
    for variable, scope in GIVEN_KEYS.items():
        key = _given(variable)
        if key is not None:
            found.append((key, scope))
    return found


def _given(variable: str) -> str | None:
    key = os.environ.get(variable)
    path = os.environ.get(f"{variable}_FILE")
    if key and path:
        raise ValueError(f"set {variable} or {variable}_FILE, not both")
    if path:
        try:
            with open(path, encoding="utf-8") as file:
                key = file.readline()
        except OSError as error:
            raise ValueError(
                f"{variable}_FILE={path!r} cannot be read ({error.strerror}): point it at a "
                "file holding the key ('tunehub keys generate > FILE')"
            ) from None
        if not key.strip():
            raise ValueError(f"{variable}_FILE={path!r} is empty: write the key in it")
    return key.strip() if key else None


DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


def _listed(name: str) -> list[str]:
    return [item.strip() for item in (os.environ.get(name) or "").split(",") if item.strip()]


def allowed_hosts() -> list[str] | None:
    """Host names the server answers to (421 for any other); ``None`` for any.

    Always the loopback names; then ``TUNEHUB_ALLOWED_HOSTS`` when set (``*``: any
    name, which gives up the protection against DNS rebinding). Unset, a server
    listening on loopback (``TUNEHUB_BIND_HOST``) answers to loopback names only, any
    other also to the machine's own host names and addresses.
    """
    from tunehub.cli import LOOPBACK_NAMES, is_loopback

    loopback = {"127.0.0.1", "::1", *LOOPBACK_NAMES}
    listed = _listed("TUNEHUB_ALLOWED_HOSTS")
    if "*" in listed:
        return None
    bind = (os.environ.get("TUNEHUB_BIND_HOST") or "").strip().lower()
    if listed:
        return sorted(loopback | {h.lower() for h in listed})
    if bind and is_loopback(bind):
        return sorted(loopback | {bind})
    return sorted(loopback | machine_names() | ({bind} - {"", "0.0.0.0", "::"}))


def machine_names() -> set[str]:
    """This machine's host names and the addresses of its network interfaces."""
    import socket

    import psutil

    names = {socket.gethostname(), socket.getfqdn()}
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6):
                names.add(address.address.split("%", 1)[0])  # no IPv6 zone
    return {name.lower() for name in names if name}


def cors_origins() -> list[str]:
    """Web origins other than the server's own that may call the API (``TUNEHUB_CORS_ORIGINS``)."""
    return _listed("TUNEHUB_CORS_ORIGINS")


def max_body_bytes() -> int:
    return int(os.environ.get("TUNEHUB_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
