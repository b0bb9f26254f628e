"""One path for every request: JSON in and out, retries, typed errors.

Retrying is safe because every write of the API is idempotent: asks carry a
request id, tells and reports are no-ops when repeated.

Requests go straight to httpx's connection-pooling transport. ``httpx.Client``
adds cookies, redirects and auth flows that a JSON API with bearer tokens never
uses, and they cost a third of a client's CPU per call: on the machine a
worker shares with its trials, or with other workers, that is time taken from
them. Proxies from the environment (``HTTPS_PROXY``, ``NO_PROXY``...) still apply.
"""

from __future__ import annotations

import json as json_module
import math
import random
import time
import urllib.request
from typing import Any

import httpx

from tunehub.errors import ServerUnavailable, error_for

_RETRY_STATUSES = {502, 503, 504}


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        timeout: float,
        max_retry_seconds: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": "tunehub-python"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._headers = headers
        self._json_headers = {**headers, "Content-Type": "application/json"}
        self._timeout = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._http = httpx.HTTPTransport(proxy=environment_proxy(self.base_url), retries=0)
        self.max_retry_seconds = max_retry_seconds

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        # NaN and infinities are written as JavaScript writes them (NaN, Infinity): the
        # server stores such an objective value as a failed trial instead of refusing it.
        body = None if json is None else json_module.dumps(json).encode()
        headers = self._json_headers if body is not None else self._headers
        url = self.base_url + path
        deadline = time.monotonic() + self.max_retry_seconds
        delay = 0.1
        while True:
            try:
                response = self._send(
                    httpx.Request(
                        method,
                        url,
                        params=params,
                        headers=headers,
                        content=body,
                        extensions=self._timeout,
                    )
                )
            except httpx.TransportError as error:
                failure: str = f"{type(error).__name__}: {error}"
                wait = delay * (0.5 + random.random())
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return _decode(response)
                failure = f"HTTP {response.status_code}"
                wait = _retry_after(response) or delay * (0.5 + random.random())
            if time.monotonic() + wait > deadline:
                raise ServerUnavailable(
                    f"{method} {url} failed for "
                    f"{self.max_retry_seconds:g} s (last: {failure}); is the server running?"
                )
            time.sleep(wait)
            delay = min(delay * 2, 5.0)

    def _send(self, request: httpx.Request) -> httpx.Response:
        response = self._http.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return response

    def close(self) -> None:
        self._http.close()


def _retry_after(response: httpx.Response) -> float | None:
    """The server's ``Retry-After`` in seconds (capped at a minute), when it sent one."""
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), 60.0) if math.isfinite(seconds) else None


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (as curl and httpx read it), if any."""
    parsed = httpx.URL(url)
    if urllib.request.proxy_bypass(parsed.host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parsed.scheme) or proxies.get("all")


def _decode(response: httpx.Response) -> Any:
    if response.status_code == 204:
        return None
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.is_success:
        return body
    raise error_for(response.status_code, body)
