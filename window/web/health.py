"""``/healthz``: is the relay alive, and is anything unusual (such as privacy switched off)."""

from __future__ import annotations

from aiohttp import web

from ..relay import Relay


def health_routes(relay: Relay) -> list[web.RouteDef]:
    async def healthz(request: web.Request) -> web.Response:
        body = {
            "status": "ok",
            "uptime_s": relay.uptime_s,
            "sites": {name: str(feed.state()) for name, feed in relay.feeds.items()},
            "privacy": {name: str(feed.privacy.mode) for name, feed in relay.feeds.items()},
            "privacy_off_allowed": relay.allow_privacy_off,
        }
        if relay.allow_privacy_off:
            body["warning"] = ("DEVELOPMENT MODE: privacy mode 'off' is allowed; "
                               "never run a public window like this")
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def readyz(request: web.Request) -> web.Response:
        """Ready to serve: every feed's pipeline runs and its privacy filter is loaded."""
        checks: dict[str, dict[str, bool]] = {}
        for name, feed in relay.feeds.items():
            checks[name] = {"pipeline": feed.running, "privacy": feed.privacy.ready()}
        ready = bool(checks) and all(all(c.values()) for c in checks.values())
        return web.json_response({"ready": ready, "sites": checks},
                                 status=200 if ready else 503,
                                 headers={"Cache-Control": "no-store"})

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]
