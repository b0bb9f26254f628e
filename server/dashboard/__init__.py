"""The web dashboard: static pages at ``/`` that read only the public API.

No build step and no CDN: the app is plain ES modules shipped in the package,
with Plotly's "basic" bundle (scatter and bar traces, all the dashboard draws)
vendored beside them, so the dashboard works on clusters without internet. The
full ``plotly.min.js`` is four times the size and takes over a second longer to
start in a browser; the basic one lets a 10,000-trial study plot within 2 s.
A strict Content-Security-Policy keeps every request on the server's own origin.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, Response

STATIC = Path(__file__).parent / "static"
FILES = {
    "app.js",
    "api.js",
    "view.js",
    "studies.js",
    "study.js",
    "plots.js",
    "table.js",
    "style.css",
}
PLOTLY = STATIC / "plotly-basic.min.js"
PLOTLY_VERSION = "4.1.1"
"""npm's ``plotly.js-basic-dist-min`` at this version (MIT, licence in ``plotly-LICENSE.txt``);
``make vendor-plotly`` fetches it again."""
PLOTLY_SHA256 = "99784e3abfb07b142a15e521a439e6d9addceadb3f79553fd24c72774f0649ba"
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def plotly_is_intact() -> bool:
    """Whether the vendored bundle is the pinned release, byte for byte."""
    return hashlib.sha256(PLOTLY.read_bytes()).hexdigest() == PLOTLY_SHA256


def install(app: FastAPI) -> None:
    """Serve the dashboard at ``/`` and its assets under ``/dashboard/``."""

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return FileResponse(STATIC / "index.html", headers=HEADERS)

    @app.get("/dashboard/plotly-basic.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return FileResponse(PLOTLY, media_type="text/javascript", headers=_cached(HEADERS))

    @app.get("/dashboard/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        # A fixed list, never a path from the request: nothing outside STATIC is reachable.
        if name not in FILES:
            raise HTTPException(status_code=404, detail=f"no dashboard file {name!r}")
        media = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(STATIC / name, media_type=media, headers=HEADERS)


def _cached(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Cache-Control": "public, max-age=86400"}
