"""Building and running the relay's web application.

``Server`` owns everything a running relay has (store, guard, relay, HTTP site) and its
background tasks, with ``start`` and ``close``. ``create_app`` wires the routes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from . import retention
from .auth.guard import Guard
from .auth.keys import load_keys
from .config import Config
from .errors import WindowError
from .events import EventBus
from .relay import Relay
from .signalling.endpoints import CORS, signalling_routes
from .signalling.tier import TierDoor
from .store import Store
from .web.api import api_routes
from .web.events_ws import events_routes
from .web.headers import headers_middleware
from .web.health import health_routes
from .web.metrics import HTTP_COUNTS, metrics_routes
from .web.pages import default_web_dir, page_routes

log = logging.getLogger("window.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RELAY_KEY = web.AppKey("relay", Relay)
GUARD_KEY = web.AppKey("guard", Guard)
STORE_KEY = web.AppKey("store", Store)
CONFIG_KEY = web.AppKey("config", Config)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes a one-line plain-text reason, a status and a log line."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:12]
    started = time.perf_counter()
    counts = request.app.get(HTTP_COUNTS, {})

    def count(status: int) -> None:
        key = (request.method, status)
        counts[key] = counts.get(key, 0) + 1

    try:
        response = await handler(request)
    except WindowError as e:
        count(e.status)
        log.info("request refused", extra={"rid": request_id, "method": request.method,
                                           "path": _safe_path(request), "status": e.status,
                                           "reason": e.reason})
        return web.Response(status=e.status, text=e.reason + "\n",
                            headers={**CORS, **e.headers, "X-Request-Id": request_id})
    except web.HTTPException as e:
        if e.status < 400:
            raise
        reason = e.reason or "error"
        count(e.status)
        log.info("request refused", extra={"rid": request_id, "method": request.method,
                                           "path": _safe_path(request), "status": e.status,
                                           "reason": reason})
        headers = {k: v for k, v in e.headers.items() if k.lower() in ("allow", "retry-after")}
        return web.Response(status=e.status, text=reason + "\n",
                            headers={**CORS, **headers, "X-Request-Id": request_id})
    except asyncio.CancelledError:
        raise
    except Exception:
        count(500)
        log.exception("request failed", extra={"rid": request_id, "method": request.method,
                                               "path": _safe_path(request)})
        return web.Response(status=500, text="internal error\n",
                            headers={"X-Request-Id": request_id})
    count(response.status)
    response.headers.setdefault("X-Request-Id", request_id)
    if request.path not in ("/healthz",) and not request.path.startswith(("/js/", "/css/")):
        log.debug("request", extra={"rid": request_id, "method": request.method,
                                    "path": _safe_path(request), "status": response.status,
                                    "ms": round((time.perf_counter() - started) * 1000, 1)})
    return response


def _safe_path(request: web.Request) -> str:
    """The path without session ids or query strings (which may hold tokens)."""
    parts = request.path.split("/")
    if len(parts) == 4 and parts[1] in ("whip", "whep"):
        parts[3] = parts[3][:8] + "…"
    return "/".join(parts)


class Server:
    """A running relay: store, guard, feeds, sessions and the HTTP listener."""

    def __init__(self, cfg: Config, *, allow_privacy_off: bool = False) -> None:
        self.cfg = cfg
        self.store = Store(cfg.data_path)
        self.keys = load_keys(cfg)
        self.guard = Guard(cfg, self.keys, self.store)
        self.events = EventBus()
        self.relay = Relay(cfg, self.store, allow_privacy_off=allow_privacy_off,
                           events=self.events)
        self.tier = TierDoor(cfg, self.events, self._tier_keyframe)
        self.relay.admission.elsewhere = self.tier.held_by  # handed viewers count too
        self.app = create_app(self)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.port: int = cfg.server.port

    async def start(self) -> None:
        await self.relay.start()
        await self.tier.start()
        self._tasks.append(asyncio.create_task(self.guard.watch_revocations(self._kick_subject),
                                               name="revocations"))
        self._tasks.append(asyncio.create_task(retention.run(self.store, self.cfg),
                                               name="retention"))
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.cfg.server.host, self.cfg.server.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("relay listening", extra={"host": self.cfg.server.host, "port": self.port,
                                           "sites": ",".join(self.cfg.sites)})
        if self.relay.allow_privacy_off:
            log.warning("DEVELOPMENT MODE: privacy mode 'off' is allowed on this relay")

    def _tier_keyframe(self, site: str) -> None:
        """A viewer joined the site's audience tier: its encoder makes a keyframe soon."""
        feed = self.relay.feeds.get(site)
        if feed is not None:
            feed.request_keyframe()

    async def _kick_subject(self, jti: str) -> int:
        """A revoked token's sessions end, at the relay and at the audience tier."""
        return await self.relay.kick_subject(jti) + await self.tier.kick_subject(jti)

    @property
    def url(self) -> str:
        host = self.cfg.server.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    async def close(self, drain_s: float = 0.0) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.tier.close()
        await self.relay.close(drain_s=drain_s)
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.to_thread(self.store.close)


def create_app(server: Server) -> web.Application:
    cfg = server.cfg
    app = web.Application(middlewares=[headers_middleware(cfg), errors_middleware],
                          client_max_size=max(cfg.server.max_body_bytes, 1024))
    app[RELAY_KEY] = server.relay
    app[GUARD_KEY] = server.guard
    app[STORE_KEY] = server.store
    app[CONFIG_KEY] = cfg
    web_dir = Path(cfg.server.web_dir) if cfg.server.web_dir else default_web_dir()
    app.add_routes(signalling_routes(server.relay, server.guard, cfg, server.tier))
    app.add_routes(health_routes(server.relay))
    http_counts: dict[tuple[str, int], int] = {}
    app[HTTP_COUNTS] = http_counts
    app.add_routes(metrics_routes(server, http_counts))
    app.add_routes(page_routes(web_dir, set(cfg.sites)))
    app.add_routes(api_routes(server))
    app.add_routes(events_routes(server.relay, server.guard))
    return app
