"""The dashboard where the API asks for a key: it prompts, keeps the key for the tab, sends it.

Twice: behind a bearer-token gateway in front of a live server, as a deployment
behind an authenticating proxy is (every ``/api/`` request without the key gets a
real HTTP 401, the dashboard's own files pass); and on a server with API keys of
its own, where a read key is all the dashboard needs.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import tunehub
from tests.browser.conftest import Seeded, screenshot
from tests.support.postgres import free_port
from tests.support.server import env_for, live_server, tunehub_cmd

KEY = "th_dashboard_test_key"


@dataclass
class Gateway:
    url: str
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    """(path, Authorization header) of every API request that reached it."""


def gateway_app(upstream: str, gateway: Gateway) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=30)

    async def forward(request: Request) -> Response:
        auth = request.headers.get("authorization")
        if request.url.path.startswith("/api/"):
            gateway.seen.append((request.url.path, auth))
            if auth != f"Bearer {KEY}":
                return JSONResponse({"detail": "missing or wrong API key"}, status_code=401)
        answer = await client.request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=await request.body(),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        )
        headers = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        }
        return Response(answer.content, status_code=answer.status_code, headers=headers)

    methods = ["GET", "POST", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


@pytest.fixture
def gateway(seeded: Seeded) -> Iterator[Gateway]:
    port = free_port()
    found = Gateway(f"http://127.0.0.1:{port}")
    config = uvicorn.Config(
        gateway_app(seeded.url, found), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    yield found
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def tab(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page; its console may report the refused requests (401), nothing else."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page, errors
    context.close()
    assert [e for e in errors if "status of 401" not in e] == []


def enter_key(page: Any, key: str, reason: str) -> None:
    page.wait_for_selector("#key-dialog[open]")
    assert reason in page.locator("#key-reason").text_content()
    page.fill("#key-input", key)
    page.click("#key-form button[type=submit]")


def test_the_dashboard_asks_for_a_key_keeps_it_for_the_tab_and_sends_it(
    seeded: Seeded, gateway: Gateway, tab: tuple[Any, list[str]]
) -> None:
    page, _ = tab
    page.goto(f"{gateway.url}/")
    enter_key(page, "not-the-key", "asks for an API key")
    enter_key(page, KEY, "refused")
    page.wait_for_selector("#studies-table td.best")
    names = page.locator("#studies-table tbody tr td:nth-child(1)").all_text_contents()
    assert {"dash-single", "dash-multi", "dash-fidelity"} <= {n.strip() for n in names}
    assert page.evaluate("sessionStorage.getItem('tunehub.apiKey')") == KEY
    assert page.locator("#forget-key").is_visible()
    screenshot(page, "auth-studies")

    # A study page, then a reload: the tab keeps the key, so no question again.
    given = len(gateway.seen)
    page.goto(f"{gateway.url}/#/studies/{seeded.single.id}")
    page.reload()
    page.wait_for_selector("#trials-table tbody tr[data-number]")
    page.wait_for_function("() => (document.querySelector('#plot-history').data || []).length")
    assert not page.locator("#key-dialog").evaluate("d => d.open")
    later = gateway.seen[given:]
    assert later and all(auth == f"Bearer {KEY}" for _, auth in later)

    # Forgetting the key: the next refresh is refused and the question comes back.
    page.click("#forget-key")
    assert page.evaluate("sessionStorage.getItem('tunehub.apiKey')") is None
    enter_key(page, KEY, "asks for an API key")
    page.wait_for_function("() => sessionStorage.getItem('tunehub.apiKey')")


def test_on_a_keyed_server_a_read_key_is_enough_for_the_dashboard(
    tmp_path: Path, tab: tuple[Any, list[str]]
) -> None:
    database = f"sqlite:///{tmp_path / 'keyed.db'}"
    with live_server(database) as url:
        with tunehub.Client(url) as client:  # no key yet: the server is open
            study = client.create_study(name="keyed-dash", space={"x": tunehub.Float(0, 1)})
            study.ask().tell(0.25)
        made = subprocess.run(
            tunehub_cmd("keys", "create", "--scope", "read", "--name", "viewer"),
            env=env_for(database),
            capture_output=True,
            text=True,
            check=True,
        )
        key = made.stdout.strip()
        deadline = time.monotonic() + 10  # each server process sees the first key within 2 s
        while httpx.get(f"{url}/api/v1/studies").status_code != 401:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        page, _ = tab
        page.goto(f"{url}/")
        enter_key(page, "th_wrong", "asks for an API key")
        enter_key(page, key, "refused")
        page.wait_for_selector("#studies-table td.best")
        names = page.locator("#studies-table tbody tr td:nth-child(1)").all_text_contents()
        assert [n.strip() for n in names] == ["keyed-dash"]
        # The key reads; it cannot change anything.
        bearer = {"Authorization": f"Bearer {key}"}
        assert httpx.delete(f"{url}/api/v1/studies/{study.id}", headers=bearer).status_code == 403
