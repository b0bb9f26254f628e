"""The API docs, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, served from the package.

FastAPI's own pages load both UIs from a CDN: on a cluster without internet they
stay blank, and they fall outside the dashboard's Content-Security-Policy. Here
both bundles are vendored beside this module at pinned npm releases (licences in
``docs_static/``; ``make vendor-docs`` fetches them again) and started by two
small scripts of ours, so the pages run under a policy that allows no inline
script and keeps every request on the server's own origin.
"""

from __future__ import annotations

import hashlib
from html import escape
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

STATIC = Path(__file__).parent / "docs_static"
ASSETS = "/docs/assets"
SWAGGER_UI_VERSION = "5.36.0"
"""npm's ``swagger-ui-dist`` at this version (Apache-2.0, ``swagger-ui-LICENSE.txt``)."""
REDOC_VERSION = "3.0.1"
"""npm's ``redoc`` at this version, its standalone bundle (MIT, ``redoc-LICENSE.txt``)."""
PINNED = {
    "swagger-ui-bundle.js": "b164c5a22535e40dae08c00271674a67e437ec195098c55fcedf8ffac7ac3c88",
    "swagger-ui.css": "7eb9f5a125e4bc9b3f0b71869b66d1a3d7c501f972f53d44ef91c2ae6c5bda5e",
    "redoc.standalone.js": "8c70c2de83d33e33a75b225e573d6d9fe851f066f824b44b1637d831d52d7543",
}
"""SHA-256 of each vendored file, so a changed or truncated copy is caught."""
OURS = ("swagger-init.js", "redoc-init.js")
"""The start-up scripts written here: they change with the pages, so no long caching."""
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
"""Both UIs inject style elements, hence 'unsafe-inline' for styles and nothing else;
neither starts a worker, so workers fall under default-src."""
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CACHED = {**HEADERS, "Cache-Control": "public, max-age=86400"}
MEDIA = {".js": "text/javascript", ".css": "text/css"}


def docs_assets_are_intact() -> bool:
    """Whether every vendored file is its pinned release, byte for byte."""
    return all(
        hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest
        for name, digest in PINNED.items()
    )


def install(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets under ``/docs/assets/``.

    The app is built with ``docs_url=None, redoc_url=None`` so these replace FastAPI's.
    """
    spec = app.openapi_url
    if spec is None:
        raise ValueError("the API docs need the OpenAPI document: the app has openapi_url=None")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> Response:
        root = escape(request.scope.get("root_path", "").rstrip("/"))
        head = (
            f'<link rel="stylesheet" href="{root}{ASSETS}/swagger-ui.css">\n'
            f'  <script defer src="{root}{ASSETS}/swagger-ui-bundle.js"></script>\n'
            f'  <script defer src="{root}{ASSETS}/swagger-init.js"></script>'
        )
        body = f'<div id="swagger-ui" data-spec-url="{root}{escape(spec)}"></div>'
        return _page(f"{app.title} - Swagger UI", head, body)

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> Response:
        root = escape(request.scope.get("root_path", "").rstrip("/"))
        head = f'<script type="module" src="{root}{ASSETS}/redoc-init.js"></script>'
        # data-spec-url, not ReDoc's own spec-url: that would start it without our options.
        body = f'<div id="redoc" data-spec-url="{root}{escape(spec)}"></div>'
        return _page(f"{app.title} - ReDoc", head, body)

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        # A fixed list, never a path from the request: nothing outside STATIC is reachable.
        if name not in PINNED and name not in OURS:
            raise HTTPException(status_code=404, detail=f"no docs file {name!r}")
        media = MEDIA[Path(name).suffix]
        headers = CACHED if name in PINNED else HEADERS
        return FileResponse(STATIC / name, media_type=media, headers=headers)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)}</title>
  <link rel="icon" href="data:,">
  {head}
</head>
<body>
  {body}
</body>
</html>
"""
    return HTMLResponse(html, headers=HEADERS)
