"""The security headers every response carries: the one place they are decided.

Pages load only their own scripts, styles, images and fonts from this relay, talk only to it
(HTTP and the ``/events`` WebSocket) and show WebRTC streams; the Content-Security-Policy
allows exactly that. Adding a page part that needs more (a font, a worker) means one more
source here, in ``CSP_SOURCES``, never an inline script or style (scripts stay ``'self'``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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


def content_security_policy(cfg: Config) -> str:
    directives = {**CSP_SOURCES, "frame-ancestors": cfg.pages.frame_ancestors}
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
