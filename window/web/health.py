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
            # Two relays: where each feed comes from, each push's state, audit alerts.
            "sources": {name: feed.snapshot_source() for name, feed in relay.feeds.items()},
            "pushes": {name: [{"url": p.target, "state": p.state, "since": round(p.since, 1)}
                              for p in relay.pushes.of(name)]
                       for name in relay.feeds if relay.pushes.of(name)},
            "audit_alerts": {name: feed.audit_alert for name, feed in relay.feeds.items()
                             if feed.audit_alert is not None},
        }
        if body["audit_alerts"]:
            body["warning"] = ("AUDIT: a partner relay's feed showed faces; it is blurred here "
                               "until an operator clears the alert")
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
