"""Serving the pages in the top-level ``web/`` folder (no build step: HTML and ES modules).

Tokens travel in the URL fragment, which browsers never send, so pages are public files.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

from ..errors import NotFound

# Security headers (CSP and the rest) are added to every response in ``web.headers``.
PAGE_HEADERS = {"Cache-Control": "no-cache"}


def shared_file(*parts: str) -> Path:
    """A file that ships beside the code: in a checkout (``web/``, ``docs/``) or, installed,
    under ``<prefix>/share/window/``."""
    checkout = Path(__file__).resolve().parent.parent.parent
    installed = Path(sys.prefix) / "share" / "window"
    top = {"web": "web", "openapi.yaml": "docs/openapi.yaml"}[parts[0]]
    local = checkout / top / Path(*parts[1:])
    return local if local.exists() else installed / Path(*parts)


def default_web_dir() -> Path:
    return shared_file("web")


def page_routes(web_dir: Path, sites: set[str]) -> list[web.AbstractRouteDef]:
    def page(name: str, per_site: bool) -> web.RouteDef:
        path = web_dir / f"{name}.html"

        async def handler(request: web.Request) -> web.StreamResponse:
            if per_site and request.match_info["site"] not in sites:
                raise NotFound(f"unknown site {request.match_info['site']!r}")
            return web.FileResponse(path, headers=PAGE_HEADERS)

        return web.get(f"/{name}/{{site}}" if per_site else f"/{name}", handler)

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(web_dir / "index.html", headers=PAGE_HEADERS)

    async def cjk_font(request: web.Request) -> web.StreamResponse:
        # The slates' font, for pages on machines without a Japanese font (a kiosk's minimal
        # OS): the stylesheet falls back to it only for CJK characters (unicode-range).
        from ..media.slate import font_path  # local: slate → i18n → this module

        path = font_path()
        if path is None or "CJK" not in path.name:
            raise NotFound("no CJK font on this relay")
        return web.FileResponse(path, headers={"Cache-Control": "public, max-age=604800",
                                               "Content-Type": "font/otf",
                                               "X-Content-Type-Options": "nosniff"})

    async def favicon(request: web.Request) -> web.StreamResponse:
        # /favicon.ico too: browsers and crawlers ask for it whatever the page declares.
        return web.FileResponse(web_dir / "favicon.svg", headers={
            "Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400"})

    routes: list[web.AbstractRouteDef] = [
        page("view", True), page("screen", True), page("admin", False), web.get("/", index),
        web.get("/favicon.svg", favicon), web.get("/favicon.ico", favicon),
        web.get("/fonts/cjk.otf", cjk_font)]
    for folder in ("js", "css", "img", "i18n"):
        if (web_dir / folder).is_dir():
            routes.append(web.static(f"/{folder}", web_dir / folder))
    return routes
