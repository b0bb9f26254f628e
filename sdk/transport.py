"""One path for every request: JSON in and out, retries, typed errors.

Retrying is safe because every write of the API is idempotent: asks carry a
request id, tells and reports are no-ops when repeated.
"""

from __future__ import annotations

import json as json_module
import random
import time
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
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
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
        headers = {"Content-Type": "application/json"} if body is not None else None
        deadline = time.monotonic() + self.max_retry_seconds
        delay = 0.1
        while True:
            try:
                response = self._http.request(
                    method, path, content=body, headers=headers, params=params
                )
            except httpx.TransportError as error:
                failure: str = f"{type(error).__name__}: {error}"
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return _decode(response)
                failure = f"HTTP {response.status_code}"
            if time.monotonic() + delay > deadline:
                raise ServerUnavailable(
                    f"{method} {self._http.base_url}{path} failed for "
                    f"{self.max_retry_seconds:g} s (last: {failure}); is the server running?"
                )
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)

    def close(self) -> None:
        self._http.close()


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
