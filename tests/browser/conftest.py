"""A live server with seeded studies and Debian's Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import tunehub
from tests.support import seed
from tests.support.server import live_server

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@dataclass
class Seeded:
    url: str
    single: tunehub.Study
    multi: tunehub.Study
    fidelity: tunehub.Study


@dataclass
class Watch:
    """What the page said and asked for: console errors, page errors, every request's URL."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        return [u for u in self.requests if urlsplit(u).hostname not in (None, "127.0.0.1")]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    folder = tmp_path_factory.mktemp("dashboard")
    database = f"sqlite:///{folder / 'dash.db'}"
    with live_server(database, log=folder / "server.log") as url, tunehub.Client(url) as client:
        yield Seeded(
            url,
            seed.single_objective(client, "dash-single"),
            seed.multi_objective(client, "dash-multi"),
            seed.multi_fidelity(client, "dash-fidelity"),
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, Watch]]:
    """A fresh page; the test fails on any console error or request beyond 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    watch = Watch()
    tab.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: watch.errors.append(str(e)))
    tab.on("request", lambda r: watch.requests.append(r.url))
    yield tab, watch
    context.close()
    assert watch.errors == []
    assert watch.foreign() == []


def screenshot(tab: Any, name: str, selector: str | None = None) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if selector:
        tab.locator(selector).screenshot(path=str(path))
    else:
        tab.screenshot(path=str(path), full_page=True)
    return path
