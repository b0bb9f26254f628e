"""Checks every request passes before any route runs: its Host, its Origin, its size.

- Host: a server answers only to the host names it is given (``TUNEHUB_ALLOWED_HOSTS``,
  by default its loopback names, and on a non-loopback bind also the machine's own
  names and addresses), so a web page that rebinds its own DNS name to the server's
  address cannot read or drive it from a browser.
- Origin: a browser's cross-site request that changes anything is refused unless
  its origin is listed in ``TUNEHUB_CORS_ORIGINS`` (the dashboard's are same-origin).
  ``Origin: null`` (a sandboxed frame, a ``data:`` page) is always foreign.
- Size: a body past ``TUNEHUB_MAX_BODY_BYTES`` is refused with 413 before it is
  read whole, whether it declares its length or streams in chunks.

A pure ASGI middleware: no per-request allocation of a Starlette ``Request``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from urllib.parse import unquote_plus, urlsplit

from starlette.exceptions import HTTPException

from tunehub.server.api.problems import Message, Receive, Scope, Send, send_problem

App = Callable[[Scope, Receive, Send], Awaitable[None]]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyTooLarge(HTTPException):
    """Raised while the route reads a chunked body: an HTTP error, so FastAPI passes it on."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)


class Guards:
    def __init__(
        self,
        app: App,
        *,
        hosts: Collection[str] | None,
        origins: Collection[str],
        max_body: int,
    ) -> None:
        self.app = app
        self.hosts = None if hosts is None else {h.lower() for h in hosts}
        self.origins = {o.rstrip("/").lower() for o in origins}
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        named = [v for k, v in scope["headers"] if k.lower() == b"host"]
        # Two Host headers name no one host: which one a proxy or a route reads is a guess.
        host = named[0].decode("latin-1") if len(named) == 1 else ""
        # Browsers keep cross-site pages from reading answers; only changes need refusing.
        origin = None if scope["method"] in SAFE_METHODS else headers.get("origin")
        refusal = _nul_refusal(scope) or self._refusal(host, origin, headers.get("content-length"))
        if refusal is not None:
            await send_problem(send, *refusal)
            return
        await self.app(scope, self._counted(receive), send)

    def _refusal(
        self, host: str, origin: str | None, length: str | None
    ) -> tuple[int, str, str] | None:
        name = _host_name(host)
        if self.hosts is not None and name not in self.hosts:
            return (
                421,
                "Misdirected request",
                f"this server does not answer to host {name!r}: list it in "
                "TUNEHUB_ALLOWED_HOSTS (comma-separated) to reach it by that name",
            )
        if origin is not None:
            same = _same_origin(origin, host)
            listed = origin != "null" and (
                origin.rstrip("/").lower() in self.origins or "*" in self.origins
            )
            if not same and not listed and origin == "null":
                return (
                    403,
                    "Forbidden",
                    "requests with 'Origin: null' (a sandboxed frame, a local file, a "
                    "redirect across sites) are refused: serve the page from an origin "
                    "listed in TUNEHUB_CORS_ORIGINS",
                )
            if not same and not listed:
                return (
                    403,
                    "Forbidden",
                    f"requests from web pages at {origin} are refused: list the origin in "
                    "TUNEHUB_CORS_ORIGINS (comma-separated) to allow them",
                )
        if (
            length is not None
            and length.isascii()
            and length.isdigit()
            and int(length) > self.max_body
        ):
            return (413, "Payload too large", self._too_large())
        return None

    def _too_large(self) -> str:
        return (
            f"the request body is over {self.max_body} bytes: send less at once (enqueue "
            "or tell in batches), or raise TUNEHUB_MAX_BODY_BYTES"
        )

    def _counted(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(self._too_large())
            return message

        return counted


def _same_origin(origin: str, host: str) -> bool:
    """Whether a browser page at ``origin`` is this server's own (as named by ``host``)."""
    try:
        parts = urlsplit(origin)
    except ValueError:  # not a URL at all (an unclosed IPv6 bracket, say): foreign
        return False
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def _nul_refusal(scope: Scope) -> tuple[int, str, str] | None:
    """No NUL in a path or a query: no database stores it in text, and no name holds it."""
    if "\x00" in scope["path"] or "\x00" in unquote_plus(scope["query_string"].decode("latin-1")):
        return (
            422,
            "Invalid input",
            "the request's path or query holds a NUL character (%00): remove it",
        )
    return None


def _host_name(host: str) -> str:
    """``example.org:8000`` -> ``example.org``; ``[::1]:8000`` -> ``::1``. Anything after
    the name but a port (``127.0.0.1:1@evil``) keeps the whole text, which no list holds."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        rest = host[end + 1 :] if end > 0 else "?"
        return host[1:end] if rest == "" or (rest[0] == ":" and rest[1:].isdigit()) else host
    name, colon, port = host.rpartition(":")
    return name if colon and host.count(":") == 1 and port.isdigit() else host
