"""The API docs in a real browser with no way out: Swagger UI and ReDoc render from
the server alone, under its Content-Security-Policy, without a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import Watch, screenshot
from tests.support.server import live_server

Page = tuple[Any, Watch]
CSP = "Content Security Policy"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("api-docs")
    with live_server(f"sqlite:///{folder / 'docs.db'}", log=folder / "server.log") as base:
        yield base


@pytest.fixture(scope="module")
def spec(url: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/openapi.json", timeout=10)
    answer.raise_for_status()
    document: dict[str, Any] = answer.json()
    return document


@pytest.fixture
def violations(page: Page) -> list[str]:
    """Console messages of any level that report a Content-Security-Policy violation."""
    tab, _ = page
    seen: list[str] = []
    tab.on("console", lambda m: seen.append(m.text) if CSP in m.text else None)
    return seen


def elsewhere(requests: list[str], url: str) -> list[str]:
    """The requests that left the server's origin (a blob: of the page's own origin stays)."""
    origin = urlsplit(url)
    out = []
    for request in requests:
        target = urlsplit(request.removeprefix("blob:"))
        if target.scheme == "data":
            continue
        if (target.scheme, target.netloc) != (origin.scheme, origin.netloc):
            out.append(request)
    return out


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]


def test_swagger_ui_lists_every_operation_and_tries_one_offline(
    url: str, spec: dict[str, Any], page: Page, violations: list[str]
) -> None:
    tab, watch = page
    tab.goto(f"{url}/docs")
    tab.get_by_text("/api/v1/studies", exact=True).first.wait_for()
    assert tab.title() == f"{spec['info']['title']} - Swagger UI"
    blocks = tab.locator(".opblock")
    assert blocks.count() == len(operations(spec))
    # Try it out: the call goes to the same origin, which connect-src allows.
    health = blocks.filter(has=tab.locator('[data-path="/api/v1/health"]'))
    health.locator(".opblock-summary-control").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    status = health.locator(".live-responses-table tr.response .response-col_status")
    status.first.wait_for()
    assert status.first.inner_text().strip() == "200"
    screenshot(tab, "api-docs-swagger")
    assert f"{url}/openapi.json" in watch.requests
    assert elsewhere(watch.requests, url) == []
    assert violations == []


def test_redoc_renders_the_operations_offline(
    url: str, spec: dict[str, Any], page: Page, violations: list[str]
) -> None:
    tab, watch = page
    ask = spec["paths"]["/api/v1/studies/{study_id}/ask"]["post"]
    title = ask.get("summary") or ask["operationId"]
    tab.goto(f"{url}/redoc")
    tab.locator("h1", has_text=spec["info"]["title"]).first.wait_for()
    assert tab.title() == f"{spec['info']['title']} - ReDoc"
    tab.get_by_text(ask["tags"][0], exact=True).first.click()
    tab.get_by_text(title, exact=True).first.click()
    heading = tab.locator("h1, h2", has_text=re.compile(rf"^{re.escape(title)}$"))
    heading.first.wait_for()
    assert heading.first.is_visible()
    tab.wait_for_timeout(500)  # let late images, fonts and workers ask
    screenshot(tab, "api-docs-redoc")
    assert f"{url}/openapi.json" in watch.requests
    assert elsewhere(watch.requests, url) == []
    assert violations == []
