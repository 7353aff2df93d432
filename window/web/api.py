"""The operators' API under ``/api/`` (admin tokens, ``Permission.OPERATE``).

Status of every site, curtain, privacy mode, kick, mint and revoke tokens, the audit log.
Every action is written to the append-only audit log (who: token subject and id; what; when;
from where). Curtain and mode are kept in the store so they survive a restart. The contract is
``docs/openapi.yaml``, served at ``/api/openapi.yaml``.

``POST /api/renew`` is the one call for non-admins: a screen (kiosk) swaps its token, before it
expires, for a fresh one with the same role, site, subject and id (so revoking the id still
ends it), so an unattended screen never needs a human. Not before half the token's life, at
most once per half a lifetime per id (``Renewals``): renewal is no disk filler.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import segno
from aiohttp import web

from ..auth.roles import Permission, Role
from ..auth.tokens import Grant, mint
from ..config import Config, PrivacyMode
from ..durations import parse_duration
from ..errors import (
    BadRequest,
    ConfigError,
    Forbidden,
    NotFound,
    NotImplementedByServer,
    TooManyRequests,
    UnsupportedMediaType,
)
from ..signalling.session import Session, SessionKind
from .common import actor_of, site_summary
from .pages import shared_file
from .remote import client_address

if TYPE_CHECKING:
    from ..app import Server

log = logging.getLogger("window.api")

OPENAPI = shared_file("openapi.yaml")
NO_STORE = {"Cache-Control": "no-store"}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers=NO_STORE)


class Api:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.relay = server.relay
        self.guard = server.guard
        self.store = server.store
        self.cfg = server.cfg
        self._bytes: dict[str, tuple[float, int]] = {}  # site -> (time, bytes_out) for kbps
        self._renewals = Renewals()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/openapi.yaml", self.openapi),
            web.get("/api/status", self.status),
            web.get("/api/sites/{site}", self.site_status),
            web.post("/api/sites/{site}/curtain", self.curtain),
            web.put("/api/sites/{site}/privacy", self.privacy),
            web.post("/api/sites/{site}/audit/clear", self.clear_audit),
            web.get("/api/sessions", self.sessions),
            web.delete("/api/sessions/{session}", self.kick),
            web.post("/api/tokens", self.mint_token),
            web.delete("/api/tokens/{jti}", self.revoke),
            web.get("/api/audit", self.audit_log),
            web.post("/api/renew", self.renew),
            web.post("/api/qr", self.qr),
        ]

    # helpers ----------------------------------------------------------------------------------
    def _operator(self, request: web.Request) -> Grant:
        return self.guard.check_request(request, Permission.OPERATE)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        ctype = request.content_type
        if ctype not in ("application/json", "application/octet-stream", ""):
            raise UnsupportedMediaType("send application/json")
        text = await request.text()
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            raise BadRequest("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data

    async def _audit(self, request: web.Request, grant: Grant, action: str, target: str = "",
                     detail: dict[str, Any] | None = None) -> None:
        await asyncio.to_thread(self.store.audit, actor_of(grant), action, target,
                                {"role": str(grant.role), **(detail or {})},
                                client_address(request, self.cfg.server.trusted_proxies))
        log.info("operator action", extra={"actor": grant.subject, "action": action,
                                           "target": target})

    def _site(self, request: web.Request) -> str:
        site = request.match_info["site"]
        self.relay.feed(site)  # 404 for an unknown site
        return site

    def _publish_feed(self, site: str) -> None:
        feed = self.relay.feed(site)
        self.relay.events.publish({"type": "feed", "site": site, "state": str(feed.state()),
                                   "mode": str(feed.privacy.mode)})

    async def _describe(self, session: Session) -> dict[str, Any]:
        out = session.describe()
        stats: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            report = await asyncio.wait_for(session.pc.getStats(), 0.5)
            for s in report.values():
                kind = type(s).__name__
                if kind == "RTCRemoteInboundRtpStreamStats":
                    stats.update(rtt_ms=round(s.roundTripTime * 1000, 1),
                                 packets_lost=s.packetsLost,
                                 fraction_lost=round(s.fractionLost, 3),
                                 jitter_ms=round(s.jitter * 1000, 1))
                elif kind == "RTCInboundRtpStreamStats":
                    stats.update(packets_received=s.packetsReceived,
                                 bytes_received=s.bytesReceived, packets_lost=s.packetsLost,
                                 jitter_ms=round(s.jitter * 1000, 1))
                elif kind == "RTCTransportStats":
                    stats.update(transport_bytes_sent=s.bytesSent,
                                 transport_bytes_received=s.bytesReceived)
        out["stats"] = stats
        return out

    def _kbps(self, site: str, bytes_out: int) -> float | None:
        now = time.monotonic()
        last = self._bytes.get(site)
        self._bytes[site] = (now, bytes_out)
        if last is None or now - last[0] < 0.2 or bytes_out < last[1]:
            return None
        return round((bytes_out - last[1]) * 8 / 1000 / (now - last[0]), 1)

    async def _site_status(self, site: str) -> dict[str, Any]:
        feed = self.relay.feed(site)
        snap = feed.snapshot()
        publisher = self.relay.publisher_of(site)
        viewers = await asyncio.gather(*(self._describe(s) for s in self.relay.viewers_of(site)))
        return {
            **site_summary(self.relay, site),
            "local_time": self.relay.clocks[site].now().isoformat(),
            "feed": snap,
            "bitrate_kbps": self._kbps(site, int(snap["bytes_out"])),
            "resolution": snap["camera_size"],
            "output_size": [self.cfg.media.width, self.cfg.media.height],
            "camera_session": await self._describe(publisher) if publisher else None,
            "viewer_sessions": list(viewers) + [s.describe()
                                                for s in self.server.tier.viewers_of(site)]
                                             + [r.describe() for r in
                                                self.server.tier.redirected_of(site)],
            "source": snap["source"],
            "relay_source": snap["relay"],
            "audit": {"alert": snap["audit_alert"],
                      **(feed.ingest.audit.snapshot()
                         if feed.ingest is not None and feed.ingest.audit is not None else {})},
            "pushes": [p.snapshot() for p in self.relay.pushes.of(site)],
            "tier": self.server.tier.snapshot(site),
        }

    # handlers ---------------------------------------------------------------------------------
    async def openapi(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(OPENAPI, headers={"Content-Type": "application/yaml",
                                                  "Cache-Control": "no-cache"})

    async def status(self, request: web.Request) -> web.Response:
        self._operator(request)
        snap = self.relay.snapshot()
        sites = {name: await self._site_status(name) for name in self.relay.feeds}
        return _json({"uptime_s": snap["uptime_s"], "sessions": snap["sessions"],
                      "privacy_off_allowed": self.relay.allow_privacy_off,
                      "modes": [str(m) for m in PrivacyMode
                                if m is not PrivacyMode.OFF or self.relay.allow_privacy_off],
                      "server_time": time.time(), "sites": sites,
                      "refused": self.relay.admission.summary()})

    async def site_status(self, request: web.Request) -> web.Response:
        self._operator(request)
        return _json(await self._site_status(self._site(request)))

    async def curtain(self, request: web.Request) -> web.Response:
        grant = self._operator(request)
        site = self._site(request)
        body = await self._body(request)
        down = body.get("down")
        if not isinstance(down, bool):
            raise BadRequest('send {"down": true} or {"down": false}')
        feed = self.relay.feed(site)
        feed.set_paused(down)
        self._publish_feed(site)
        await asyncio.to_thread(self.store.set, f"site:{site}", "paused", down)
        await self._audit(request, grant, "curtain.down" if down else "curtain.up", site)
        return _json(site_summary(self.relay, site))

    async def privacy(self, request: web.Request) -> web.Response:
        grant = self._operator(request)
        site = self._site(request)
        body = await self._body(request)
        try:
            mode = PrivacyMode(str(body.get("mode")))
        except ValueError:
            raise BadRequest("mode must be one of " + ", ".join(m.value for m in PrivacyMode)
                             ) from None
        feed = self.relay.feed(site)
        before = str(feed.privacy.mode)
        try:
            feed.privacy.set_mode(mode)
        except Forbidden:
            await self._audit(request, grant, "privacy.refused", site, {"mode": str(mode)})
            raise
        feed.wake()
        self._publish_feed(site)
        await asyncio.to_thread(self.store.set, f"site:{site}", "mode", str(mode))
        await self._audit(request, grant, "privacy.set", site, {"mode": str(mode),
                                                                "was": before})
        return _json(site_summary(self.relay, site))

    async def clear_audit(self, request: web.Request) -> web.Response:
        """An operator has looked at the partner's feed: forward it again."""
        grant = self._operator(request)
        site = self._site(request)
        alert = self.relay.feed(site).audit_alert
        if not await self.relay.clear_audit(site):
            raise NotFound(f"site {site!r} has no audit alert")
        await self._audit(request, grant, "audit.clear", site, {"alert": alert})
        return _json({"site": site, "cleared": alert})

    async def sessions(self, request: web.Request) -> web.Response:
        self._operator(request)
        out = await asyncio.gather(*(self._describe(s) for s in list(self.relay.sessions.values())))
        return _json({"sessions": list(out)})

    async def kick(self, request: web.Request) -> web.Response:
        grant = self._operator(request)
        session = self.relay.sessions.get(request.match_info["session"])
        handed = self.server.tier.sessions.get(request.match_info["session"])
        if handed is not None:  # a viewer handed to the audience tier
            await self.server.tier.end(handed, f"kicked by {grant.subject}")
            await self._audit(request, grant, "session.kick", handed.site, {
                "session": handed.id[:8], "kind": "viewer", "subject": handed.grant.subject,
                "jti": handed.grant.jti, "tier": True})
            return _json({"kicked": handed.id, "kind": "viewer", "site": handed.site})
        sent = self.server.tier.redirected.get(request.match_info["session"])
        if sent is not None:  # a viewer sent to the tier by a 307
            await self.server.tier.end_redirected(sent, f"kicked by {grant.subject}")
            await self._audit(request, grant, "session.kick", sent.site, {
                "session": sent.id[:8], "kind": "viewer", "subject": sent.grant.subject,
                "jti": sent.grant.jti, "tier": True})
            return _json({"kicked": sent.id, "kind": "viewer", "site": sent.site})
        if session is None or session.closed:
            raise NotFound("no such session")
        await self.relay.end(session, f"kicked by {grant.subject}")
        await self._audit(request, grant, "session.kick", session.site, {
            "session": session.id[:8], "kind": str(session.kind),
            "subject": session.grant.subject, "jti": session.grant.jti})
        return _json({"kicked": session.id, "kind": str(session.kind), "site": session.site})

    async def mint_token(self, request: web.Request) -> web.Response:
        grant = self._operator(request)
        body = await self._body(request)
        try:
            role = Role(str(body.get("role")))
        except ValueError:
            raise BadRequest("role must be one of " + ", ".join(r.value for r in Role)) from None
        site = body.get("site") or None
        if site is not None and not isinstance(site, str):
            raise BadRequest("site must be a string")
        subject = body.get("subject") or ""
        if not isinstance(subject, str) or len(subject) > 100:
            raise BadRequest("subject must be a string of at most 100 characters")
        ttl_text = str(body.get("ttl") or self.cfg.auth.default_ttl)
        try:
            ttl = parse_duration(ttl_text)
        except ValueError as e:
            raise BadRequest(str(e)) from None
        if ttl > parse_duration(self.cfg.auth.max_ttl):
            raise BadRequest(f"ttl longer than the maximum {self.cfg.auth.max_ttl}")
        if site is not None and site not in self.relay.feeds:
            raise NotFound(f"unknown site {site!r}")
        max_sessions = body.get("max_sessions")
        if max_sessions is not None and (not isinstance(max_sessions, int)
                                         or isinstance(max_sessions, bool)
                                         or not 1 <= max_sessions <= 10000):
            raise BadRequest("max_sessions must be an integer from 1 to 10000")
        try:
            token, minted = mint(self.cfg, self.server.keys, role=role, ttl_s=ttl, site=site,
                                 subject=subject, max_sessions=max_sessions)
        except ConfigError as e:
            raise BadRequest(str(e)) from None
        await self._audit(request, grant, "token.mint", minted.jti, {
            "minted_role": str(role), "site": site, "subject": minted.subject,
            "expires_at": minted.expires_at})
        links: dict[str, str] = {}
        if role is Role.SCREEN and site:
            links["screen"] = f"/screen/{site}#token={token}"
        elif role is Role.VIEWER:
            for name in ([site] if site else list(self.relay.feeds)):
                links[f"view {name}"] = f"/view/{name}#token={token}"
        elif role is Role.ADMIN:
            links["admin"] = f"/admin#token={token}"
        return _json({"token": token, "jti": minted.jti, "role": str(role), "site": site,
                      "subject": minted.subject, "expires_at": minted.expires_at,
                      "links": links}, status=201)

    async def revoke(self, request: web.Request) -> web.Response:
        grant = self._operator(request)
        jti = request.match_info["jti"]
        body = await self._body(request)
        reason = str(body.get("reason") or "")[:200]
        expires_at = body.get("expires_at")
        if expires_at is not None and not isinstance(expires_at, int):
            raise BadRequest("expires_at must be a Unix time in seconds")
        if expires_at is None:  # a session opened with it knows (kept for retention)
            expires_at = next((s.grant.expires_at for s in self.relay.sessions.values()
                               if s.grant.jti == jti), None)
        await asyncio.to_thread(self.store.revoke, jti, expires_at, reason)
        self.guard.mark_revoked(jti)
        kicked = await self.relay.kick_subject(jti) + await self.server.tier.kick_subject(jti)
        await self._audit(request, grant, "token.revoke", jti, {"reason": reason,
                                                                "sessions_ended": kicked})
        return _json({"revoked": jti, "sessions_ended": kicked})

    async def audit_log(self, request: web.Request) -> web.Response:
        self._operator(request)
        try:
            limit = min(max(int(request.query.get("limit", "100")), 1), 1000)
            before = request.query.get("before")
            before_id = int(before) if before else None
        except ValueError:
            raise BadRequest("limit and before are integers") from None
        entries = await asyncio.to_thread(self.store.audit_log, limit, before_id)
        return _json({"entries": [
            {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
             "detail": e.detail, "remote": e.remote} for e in entries]})

    async def qr(self, request: web.Request) -> web.Response:
        """A QR code (SVG) of a link, for an operator setting up a screen with a phone."""
        self._operator(request)
        body = await self._body(request)
        text = body.get("text")
        if not isinstance(text, str) or not 0 < len(text) <= 2048:
            raise BadRequest("send {\"text\": \"...\"} with at most 2048 characters")
        svg = await asyncio.to_thread(qr_svg, text)
        return _json({"svg": svg})

    async def renew(self, request: web.Request) -> web.Response:
        from ..auth.guard import bearer_token

        token = bearer_token(request)
        grant = self.guard.grant(token)
        if grant.role is not Role.SCREEN:
            raise Forbidden("only screen tokens renew themselves; ask an operator")
        lifetime = grant.expires_at - (grant.issued_at or grant.expires_at)
        ttl = min(max(lifetime, 60), parse_duration(self.cfg.auth.max_ttl))
        self._renewals.check(grant, ttl, self.cfg)
        try:
            new, renewed = mint(self.cfg, self.server.keys, role=grant.role, ttl_s=ttl,
                                site=grant.site, subject=grant.subject, jti=grant.jti,
                                max_sessions=grant.max_sessions,
                                first_issued=grant.first_issued or grant.issued_at)
        except ConfigError as e:  # e.g. public-key mode without a private key here
            raise NotImplementedByServer(f"this relay cannot renew tokens: {e}") from None
        self._renewals.note(grant.jti, renewed.expires_at)
        extended = self.relay.extend(grant.jti, renewed.expires_at)
        # One entry per renewal period and token id: the rate limit above sees to that.
        await self._audit(request, grant, "token.renew", grant.jti,
                          {"site": grant.site, "expires_at": renewed.expires_at,
                           "sessions_extended": extended})
        return _json({"token": new, "expires_at": renewed.expires_at})


class Renewals:
    """When each token id last renewed: a token renews once per half of its life, at most.

    Without it, the old token (still valid after a renewal) could renew again and again,
    each time writing an audit entry: a disk filler.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}  # jti -> (renewed at, new expiry)

    def check(self, grant: Grant, ttl: int, cfg: Config) -> None:
        now = time.time()
        slack = cfg.auth.leeway_s  # a screen's clock may run a little fast
        half = grant.issued_at + (grant.expires_at - grant.issued_at) / 2
        last = self._last.get(grant.jti)
        not_before = max(half, last[0] + ttl / 2 if last else 0.0) - slack
        if now < not_before:
            raise TooManyRequests("too early to renew: a token renews after half its life",
                                  retry_after=int(not_before - now) + 1)
        if cfg.auth.renew_max_age:
            first = grant.first_issued or grant.issued_at
            if now - first > parse_duration(cfg.auth.renew_max_age):
                raise Forbidden("this token id has been renewed for auth.renew_max_age; "
                                "ask an operator for a new one")

    def note(self, jti: str, expires_at: int) -> None:
        now = time.time()
        if len(self._last) > 1000:  # forget ids whose last token has run out
            self._last = {k: v for k, v in self._last.items() if v[1] > now}
        self._last[jti] = (now, expires_at)


def qr_svg(text: str) -> str:
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False,
                                     title="QR code of the link")
    return out.getvalue().decode()


def api_routes(server: Server) -> list[web.RouteDef]:
    return Api(server).routes()


__all__ = ["SessionKind", "api_routes"]
