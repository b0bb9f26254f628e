"""The API docs work without internet: /docs and /redoc load nothing from a CDN.

Both pages may reference only paths on the server itself, every file they load is
served with its media type under a strict Content-Security-Policy, and the vendored
Swagger UI and ReDoc bundles are the pinned releases, byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.support.server import live_server
from tunehub.server.api import docs

PAGES = ("/docs", "/redoc")


class References(HTMLParser):
    """Every src and href in a page, and the scripts written inline."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.spec_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v is not None]
        if tag == "script" and not found.get("src"):
            self.inline_scripts += 1
        if found.get("data-spec-url"):
            self.spec_urls.append(str(found["data-spec-url"]))


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("docs")
    with live_server(f"sqlite:///{folder / 'docs.db'}", log=folder / "server.log") as base:
        yield base


def references(url: str, page: str) -> tuple[httpx.Response, References]:
    answer = httpx.get(url + page, timeout=10)
    assert answer.status_code == 200, page
    parsed = References()
    parsed.feed(answer.text)
    return answer, parsed


def media_type(answer: httpx.Response) -> str:
    return answer.headers["content-type"].split(";")[0].strip()


@pytest.mark.parametrize("page", PAGES)
def test_docs_pages_reference_only_their_own_origin(url: str, page: str) -> None:
    answer, found = references(url, page)
    assert "http:" not in answer.text and "https:" not in answer.text, page
    assert found.urls, page
    for ref in found.urls:
        if ref.startswith("data:"):
            continue
        assert not ref.startswith("//"), ref
        assert urlsplit(urljoin(url + page, ref)).netloc == urlsplit(url).netloc, ref
    assert found.inline_scripts == 0, page


@pytest.mark.parametrize("page", PAGES)
def test_docs_pages_send_a_policy_that_keeps_requests_on_the_origin(url: str, page: str) -> None:
    headers = httpx.get(url + page, timeout=10).headers
    policy = {
        d.split()[0]: d.split()[1:] for d in headers["content-security-policy"].split(";") if d
    }
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("page", PAGES)
def test_every_file_a_docs_page_loads_answers_with_its_media_type(url: str, page: str) -> None:
    _, found = references(url, page)
    wanted = {".js": "text/javascript", ".css": "text/css"}
    for ref in [r for r in found.urls if not r.startswith("data:")]:
        answer = httpx.get(urljoin(url + page, ref), timeout=10)
        assert answer.status_code == 200, ref
        assert media_type(answer) == wanted[Path(urlsplit(ref).path).suffix], ref
        assert answer.headers["x-content-type-options"] == "nosniff", ref
    assert found.spec_urls == ["/openapi.json"]
    spec = httpx.get(urljoin(url + page, found.spec_urls[0]), timeout=10)
    assert spec.status_code == 200 and media_type(spec) == "application/json"


def test_served_bundles_are_the_pinned_releases_and_cached(url: str) -> None:
    assert docs.docs_assets_are_intact()
    for name, digest in docs.PINNED.items():
        answer = httpx.get(f"{url}{docs.ASSETS}/{name}", timeout=10)
        assert answer.status_code == 200, name
        assert hashlib.sha256(answer.content).hexdigest() == digest, name
        assert "max-age" in answer.headers["cache-control"], name
    for name in docs.OURS:
        assert "http" not in httpx.get(f"{url}{docs.ASSETS}/{name}", timeout=10).text, name
    # ReDoc's start-up script imports the bundle beside it, not one from a CDN.
    init = httpx.get(f"{url}{docs.ASSETS}/redoc-init.js", timeout=10).text
    assert 'from "./redoc.standalone.js"' in init


def test_each_vendored_file_matches_its_pinned_checksum() -> None:
    for name, digest in docs.PINNED.items():
        assert hashlib.sha256((docs.STATIC / name).read_bytes()).hexdigest() == digest, name
    for licence in ("swagger-ui-LICENSE.txt", "swagger-ui-NOTICE.txt", "redoc-LICENSE.txt"):
        assert (docs.STATIC / licence).stat().st_size > 0, licence


@pytest.mark.parametrize(
    "name", ["docs.py", "..%2fdocs.py", "%2e%2e%2fapp.py", "swagger-ui-LICENSE.txt", "index.html"]
)
def test_docs_assets_serve_only_their_fixed_list(url: str, name: str) -> None:
    answer = httpx.get(f"{url}{docs.ASSETS}/{name}", timeout=10)
    assert answer.status_code == 404, name
    assert "import" not in answer.text and "Apache License" not in answer.text
