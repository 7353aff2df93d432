"""The security headers every response carries: the one place they are decided.

Pages load only their own scripts, styles, images and fonts from this relay, talk only to it
(HTTP and the ``/events`` WebSocket) and show WebRTC streams; the Content-Security-Policy
allows exactly that. Adding a page part that needs more (a font, a worker) means one more
source here, in ``CSP_SOURCES``, never an inline script or style (scripts stay ``'self'``).

The one source that comes from the config: a site whose audience tier hands viewers over by
``redirect`` sends their WHEP ``POST`` on to the tier's instances (a ``307``), so their origins
are added to ``connect-src``, and only then (``proxy`` needs nothing: the browser talks only
to us, and media is not a fetch).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..config import Config

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Directive -> sources. frame-ancestors comes from pages.frame_ancestors.
CSP_SOURCES: dict[str, str] = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "font-src": "'self'",
    "media-src": "'self' blob: mediastream:",
    "connect-src": "'self'",
    "manifest-src": "'self'",
    "worker-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'self'",
}


def tier_origins(cfg: Config) -> list[str]:
    """The origins of the tier instances viewers are redirected to, in config order."""
    origins: list[str] = []
    for site in cfg.sites.values():
        tier = site.tier
        if tier.use == "off" or tier.handoff != "redirect":
            continue
        for url in tier.whep_urls:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
            if origin not in origins:
                origins.append(origin)
    return origins


def content_security_policy(cfg: Config) -> str:
    connect = " ".join([CSP_SOURCES["connect-src"], *tier_origins(cfg)])
    directives = {**CSP_SOURCES, "connect-src": connect,
                  "frame-ancestors": cfg.pages.frame_ancestors}
    return "; ".join(f"{k} {v}" for k, v in directives.items())


def security_headers(cfg: Config) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(cfg),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if cfg.pages.frame_ancestors.strip() == "'none'":
        headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    return headers


def headers_middleware(cfg: Config) -> Middleware:
    headers = security_headers(cfg)

    @web.middleware
    async def add_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if not response.prepared:  # a WebSocket has sent its headers already
            for k, v in headers.items():
                response.headers.setdefault(k, v)
        return response

    return add_headers
