"""WHIP (cameras publish) and WHEP (viewers watch) over HTTP.

Both are the same shape, per RFC 9725: ``POST`` an SDP offer to ``/{whip|whep}/{site}``, get
``201`` with the answer, ``Location`` and ``ETag``; ``PATCH`` the session with trickle-ICE
fragments; ``DELETE`` it to hang up; ``OPTIONS`` tells what is accepted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from ..auth.guard import Guard, bearer_token
from ..auth.roles import Permission, Role
from ..auth.tokens import Grant
from ..config import Config
from ..errors import (
    BadRequest,
    Conflict,
    Forbidden,
    PreconditionFailed,
    Unauthorized,
    UnprocessableEntity,
)
from ..media.source_state import parse_state, state_link
from ..relay import Relay
from ..web.remote import client_address
from .body import read_offer, read_text
from .ice_servers import ice_servers
from .sdpfrag import parse_sdpfrag
from .session import Session, SessionKind
from .tier import SiteTier, TierDoor, TierSession, TierUnavailable

log = logging.getLogger("window.signalling")

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Expose-Headers": "Location, ETag, Link, Accept-Patch, Retry-After",
}


@dataclass
class Endpoint:
    """The handlers of one of the two protocols."""

    prefix: str  # "whip" or "whep"
    kind: SessionKind
    permission: Permission
    relay: Relay
    guard: Guard
    cfg: Config
    tier: TierDoor | None = None

    def routes(self) -> list[web.RouteDef]:
        base = f"/{self.prefix}/{{site}}"
        session = base + "/{session}"
        routes = [
            web.post(base, self.post),
            web.options(base, self.options),
            web.patch(session, self.patch),
            web.delete(session, self.delete),
            web.options(session, self.options),
        ]
        if self.kind is SessionKind.PUBLISHER:
            routes.append(web.put(session + "/state", self.put_state))
        return routes

    async def options(self, request: web.Request) -> web.Response:
        headers = {
            **CORS,
            "Accept-Post": "application/sdp",
            "Accept-Patch": "application/trickle-ice-sdpfrag",
            "Access-Control-Allow-Methods": "OPTIONS, POST, PATCH, DELETE",
        }
        response = web.Response(status=204, headers=headers)
        # ICE servers (with TURN credentials) only for a valid token that may use this door
        # (publish here, or watch this site): a client that wants them before its offer
        # sends OPTIONS with its Authorization header (RFC 9725 4.4). Anyone else still
        # gets 204, as the contract says, just without them.
        if "Authorization" in request.headers:
            with contextlib.suppress(Unauthorized, Forbidden):
                grant = self.guard.grant(self._token(request))
                site = request.match_info["site"]
                if site in self.relay.feeds:
                    self.guard.allow(grant, self.permission, site)
                    self._add_links(response, grant)
        return response

    def _add_links(self, response: web.Response, grant: Grant) -> None:
        """TURN credentials that end when the token does, at the latest."""
        for server in ice_servers(self.cfg, grant.subject or grant.jti, grant.expires_at):
            response.headers.add("Link", server.link())

    async def post(self, request: web.Request) -> web.Response:
        site = request.match_info["site"]
        grant = self.guard.grant(self._token(request))
        self.relay.feed(site)  # 404 for an unknown site
        self.guard.allow(grant, self.permission, site)
        offer = await read_offer(request, self.cfg.server.max_body_bytes)
        remote = client_address(request, self.cfg.server.trusted_proxies)
        if self.kind is SessionKind.VIEWER and self.tier is not None:
            handed = await self._to_tier(site, offer, grant, remote)
            if handed is not None:
                return handed
        if self.kind is SessionKind.PUBLISHER:
            session, answer = await self.relay.publish(site, offer, grant, remote)
        else:
            session, answer = await self.relay.watch(site, offer, grant, remote)
        log.info("session opened", extra={"session": session.id[:8], "kind": str(self.kind),
                                          "site": site, "role": str(grant.role),
                                          "subject": grant.subject, "remote": remote})
        response = web.Response(
            status=201,
            text=answer,
            content_type="application/sdp",
            headers={**CORS, "Location": session.path, "ETag": session.etag,
                     "Accept-Patch": "application/trickle-ice-sdpfrag"},
        )
        self._add_links(response, grant)
        if self.kind is SessionKind.PUBLISHER and grant.role is Role.RELAY:
            response.headers.add("Link", state_link(session.path))  # window.media.source_state
        return response

    async def put_state(self, request: web.Request) -> web.Response:
        """A pushing relay tells the state of its feed (``window.media.source_state``)."""
        session = self._owned_session(request)
        ingest = self.relay.feed(request.match_info["site"]).ingest
        if ingest is None or ingest.session_id != session.id:
            raise Conflict("this session does not bring a relay's feed (any more)")
        text = await read_text(request, "application/json", 1024)
        try:
            state = parse_state(json.loads(text))
        except ValueError as e:  # json.JSONDecodeError is one
            raise BadRequest(str(e)) from None
        ingest.set_partner_state(state)
        return web.Response(status=204, headers=CORS)

    async def _to_tier(self, site: str, offer: str, grant: Grant, remote: str
                       ) -> web.Response | None:
        """The audience tier's turn (see tier.py); None: the relay serves this viewer.

        After the token check, and under the token's session cap (``admission``): a token at
        its cap gets 429 here as at the relay; one handed over by proxy keeps counting."""
        assert self.tier is not None
        tier = self.tier.takes(site, grant, self.relay.is_full(site, grant))
        if tier is None:
            return None
        with self.relay.admission.admit(SessionKind.VIEWER, site, grant, remote,
                                        self.relay.sessions.values(), capacity=False):
            return await self._hand_over(tier, site, offer, grant, remote)

    async def _hand_over(self, tier: SiteTier, site: str, offer: str, grant: Grant, remote: str
                         ) -> web.Response | None:
        assert self.tier is not None
        if tier.cfg.handoff == "redirect":
            log.info("viewer redirected to the tier", extra={"site": site, "remote": remote,
                                                             "subject": grant.subject})
            return web.Response(status=307, text="served by the audience tier\n",
                                headers={**CORS,
                                         "Location": self.tier.redirect_url(tier, grant, remote)})
        try:
            session, answer = await self.tier.proxy(tier, offer, grant, remote)
        except TierUnavailable:
            log.warning("tier unavailable; the relay serves the viewer", extra={"site": site})
            return None
        log.info("session opened", extra={"session": session.id[:8], "kind": "viewer",
                                          "site": site, "role": str(grant.role), "tier": True,
                                          "subject": grant.subject, "remote": remote})
        return web.Response(status=201, text=answer, content_type="application/sdp",
                            headers={**CORS, "Location": session.path, "ETag": session.etag,
                                     "Accept-Patch": "application/trickle-ice-sdpfrag"})

    def _owned_tier_session(self, request: web.Request, *, hanging_up: bool = False
                            ) -> TierSession | None:
        """As ``_owned_session``, for a viewer handed to the tier by proxy (None: not one)."""
        if self.tier is None or self.kind is not SessionKind.VIEWER:
            return None
        session = self.tier.session(request.match_info["site"], request.match_info["session"])
        if session is None:
            return None
        token = self._token(request)
        grant = self.guard.grant_of_owner(token) if hanging_up else self.guard.grant(token)
        if grant.expires_at + self.cfg.auth.leeway_s < time.time() and (
                grant.jti != session.grant.jti):
            raise Unauthorized("token expired")
        if grant.jti != session.grant.jti and grant.role != "admin":
            raise Forbidden("this session belongs to another token")
        return session

    def _token(self, request: web.Request) -> str:
        return bearer_token(request)

    def _owned_session(self, request: web.Request, *, hanging_up: bool = False) -> Session:
        """The session in the path, if the request's token opened it (or is an admin's).

        ``hanging_up``: an expired token of the session's own id still may (DELETE)."""
        token = self._token(request)
        grant = self.guard.grant_of_owner(token) if hanging_up else self.guard.grant(token)
        session = self.relay.session(request.match_info["site"], request.match_info["session"],
                                     self.kind)
        if grant.expires_at + self.cfg.auth.leeway_s < time.time() and (
                grant.jti != session.grant.jti):
            raise Unauthorized("token expired")  # only the owner hangs up with an expired one
        if grant.jti != session.grant.jti and grant.role != "admin":
            raise Forbidden("this session belongs to another token")
        return session

    async def patch(self, request: web.Request) -> web.Response:
        handed = self._owned_tier_session(request)
        if handed is not None:
            text = await read_text(request, "application/trickle-ice-sdpfrag",
                                   self.cfg.server.max_body_bytes)
            parse_sdpfrag(text)  # 400 for what we would refuse ourselves
            status = await self.tier.patch(handed, "application/trickle-ice-sdpfrag", text)  # type: ignore[union-attr]
            if status >= 300:
                raise UnprocessableEntity(f"the audience tier refused the fragment ({status})")
            return web.Response(status=204, headers=CORS)
        session = self._owned_session(request)
        if_match = request.headers.get("If-Match")
        if if_match and if_match != "*" and if_match != session.etag:
            raise PreconditionFailed("If-Match does not match the session's ETag")
        text = await read_text(request, "application/trickle-ice-sdpfrag",
                               self.cfg.server.max_body_bytes)
        await self.relay.trickle(session, parse_sdpfrag(text))
        return web.Response(status=204, headers=CORS)

    async def delete(self, request: web.Request) -> web.Response:
        handed = self._owned_tier_session(request, hanging_up=True)
        if handed is not None:
            await self.tier.end(handed, "deleted by client")  # type: ignore[union-attr]
            return web.Response(status=200, text="session ended\n", headers=CORS)
        session = self._owned_session(request, hanging_up=True)
        await self.relay.end(session, "deleted by client")
        return web.Response(status=200, text="session ended\n", headers=CORS)


def signalling_routes(relay: Relay, guard: Guard, cfg: Config, tier: TierDoor | None = None
                      ) -> list[web.RouteDef]:
    whip = Endpoint("whip", SessionKind.PUBLISHER, Permission.PUBLISH, relay, guard, cfg)
    whep = Endpoint("whep", SessionKind.VIEWER, Permission.WATCH, relay, guard, cfg, tier)
    return whip.routes() + whep.routes()
