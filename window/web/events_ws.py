"""``/events``: a WebSocket that pushes feed states and viewer counts to pages.

Browsers cannot set headers on a WebSocket, so the token comes as the first message
(``{"type": "auth", "token": "…"}``, preferred), or as ``?token=`` or a ``bearer.<token>``
subprotocol. After it: one ``hello``, one ``snapshot`` of every site the token may watch, then
every change on the relay's event bus for those sites. See ``docs/events.md``.

The door is held: sockets are capped in total and per client address (``limits.events_*``),
a socket without a valid token is closed after ``limits.events_auth_timeout_s``, messages
over ``limits.events_max_message_bytes`` close the socket (1009), and whatever a page sends
that does not parse (also JSON nested too deep to parse) is refused or ignored, never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from aiohttp import WSMsgType, web

from ..auth.guard import Guard
from ..auth.roles import ROLE_PERMISSIONS, Permission, allowed_site
from ..auth.tokens import Grant
from ..errors import AtCapacity, Forbidden, TooManyRequests, Unauthorized
from ..relay import Relay
from .common import site_summary
from .remote import client_address

log = logging.getLogger("window.events")

RECHECK_S = 2.0  # revocation and expiry are re-checked this often
SUBPROTOCOL_PREFIX = "bearer."
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


class EventsSocket:
    def __init__(self, relay: Relay, guard: Guard) -> None:
        self.relay = relay
        self.guard = guard
        self.clients = 0
        self.per_address: dict[str, int] = {}
        self.limits = relay.cfg.limits

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/events", self.handle)]

    def visible(self, grant: Grant) -> list[str]:
        return [name for name in self.relay.feeds
                if allowed_site(grant.role, grant.site, name, self.relay.cfg)]

    def _check(self, token: str) -> Grant:
        grant = self.guard.check(token, Permission.EVENTS)
        if not self.visible(grant):
            raise Forbidden(f"this {grant.role} token may not watch any site")
        return grant

    def snapshot(self, grant: Grant) -> dict[str, Any]:
        return {"type": "snapshot", "server_time": time.time(),
                "sites": {name: site_summary(self.relay, name) for name in self.visible(grant)}}

    def _enrich(self, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("type") == "feed" and event.get("site") in self.relay.feeds:
            summary = site_summary(self.relay, event["site"])
            return {**event, "open": summary["open"], "next_opening": summary["next_opening"],
                    "paused": summary["paused"], "camera": summary["camera"]}
        return event

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        remote = client_address(request, self.relay.cfg.server.trusted_proxies)
        if self.clients >= self.limits.events_sockets_total:
            raise AtCapacity("too many event sockets open; try again soon")
        if self.per_address.get(remote, 0) >= self.limits.events_sockets_per_address:
            raise TooManyRequests("too many event sockets from this address", retry_after=30)
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
                   if p.strip()]
        from_protocol = next((p for p in offered if p.startswith(SUBPROTOCOL_PREFIX)), None)
        ws = web.WebSocketResponse(heartbeat=15.0, protocols=[from_protocol] if from_protocol
                                   else (), max_msg_size=self.limits.events_max_message_bytes)
        self.clients += 1
        self.per_address[remote] = self.per_address.get(remote, 0) + 1
        try:
            await ws.prepare(request)
            await self._serve(request, ws, from_protocol)
        finally:
            self.clients -= 1
            left = self.per_address.pop(remote, 1) - 1
            if left > 0:
                self.per_address[remote] = left
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()
        return ws

    async def _first_token(self, request: web.Request, ws: web.WebSocketResponse,
                           from_protocol: str | None) -> str | None:
        if from_protocol:
            return from_protocol[len(SUBPROTOCOL_PREFIX):]
        if request.query.get("token"):
            return request.query["token"]
        try:
            msg = await ws.receive(timeout=self.limits.events_auth_timeout_s)
        except TimeoutError:
            await self._refuse(ws, Unauthorized("send {\"type\": \"auth\", \"token\": …} first"))
            return None
        if msg.type is not WSMsgType.TEXT:
            return None
        data = _parse(msg.data)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            await self._refuse(ws, Unauthorized("the first message must be "
                                                "{\"type\": \"auth\", \"token\": …}"))
            return None
        return token

    async def _refuse(self, ws: web.WebSocketResponse, error: Unauthorized | Forbidden) -> None:
        code = CLOSE_UNAUTHORIZED if isinstance(error, Unauthorized) else CLOSE_FORBIDDEN
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "status": error.status, "reason": error.reason})
            await ws.close(code=code, message=error.reason[:100].encode())

    async def _serve(self, request: web.Request, ws: web.WebSocketResponse,
                     from_protocol: str | None) -> None:
        token = await self._first_token(request, ws, from_protocol)
        if token is None:
            return
        try:
            grant = self._check(token)
        except (Unauthorized, Forbidden) as e:
            await self._refuse(ws, e)
            return
        await ws.send_json(self._hello(grant))
        queue = self.relay.events.subscribe()
        try:
            await ws.send_json(self.snapshot(grant))
            reader = asyncio.create_task(self._read(ws))
            try:
                while not ws.closed:
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({getter, reader}, timeout=RECHECK_S,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if reader in done:
                        getter.cancel()
                        new_token = reader.result()
                        if new_token is None:
                            return  # the page went away
                        try:
                            grant, token = self._check(new_token), new_token
                        except (Unauthorized, Forbidden) as e:
                            await self._refuse(ws, e)
                            return
                        await ws.send_json(self._hello(grant))
                        await ws.send_json(self.snapshot(grant))
                        reader = asyncio.create_task(self._read(ws))
                        continue
                    if getter in done:
                        event = getter.result()
                        site = event.get("site")
                        operators_only = event.get("type") == "audit"  # partner alerts
                        if operators_only and Permission.OPERATE not in ROLE_PERMISSIONS[
                                grant.role]:
                            pass
                        elif site is None or site in self.visible(grant):
                            await ws.send_json(self._enrich(event))
                    else:
                        getter.cancel()
                    try:  # revoked or expired since: tell the page, then hang up
                        self.guard.grant(token)
                    except Unauthorized as e:
                        await self._refuse(ws, e)
                        return
            finally:
                reader.cancel()
        except (ConnectionResetError, RuntimeError):
            pass  # the page went away mid-send
        finally:
            self.relay.events.unsubscribe(queue)

    def _hello(self, grant: Grant) -> dict[str, Any]:
        own = self.relay.cfg.sites.get(grant.site or "")
        return {"type": "hello", "role": str(grant.role), "site": grant.site,
                "subject": grant.subject, "expires_at": grant.expires_at,
                "sites": self.visible(grant),
                # what the token's own site reads (a screen speaks it): null without a site
                "language": own.language if own else None}

    async def _read(self, ws: web.WebSocketResponse) -> str | None:
        """Wait for the page's next meaningful message: a new token, or the end (None)."""
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            data = _parse(msg.data)
            if not isinstance(data, dict):
                continue
            if data.get("type") == "ping":
                await ws.send_json({"type": "pong", "server_time": time.time()})
            elif data.get("type") == "auth" and isinstance(data.get("token"), str):
                return str(data["token"])
        return None


# Nesting a first message may have; deeper is refused before the parser sees it.
MAX_JSON_DEPTH = 16


def _too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Brackets nested deeper than ``limit`` (strings skipped). Checked before ``json.loads``
    so that the parser never recurses into a RecursionError: catching one leaves CPython
    3.11's recursion bookkeeping off (``SystemError: AST constructor recursion depth
    mismatch`` later in the same thread)."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _parse(text: str) -> Any:
    """JSON, or None for anything that does not parse or nests too deep."""
    if _too_deep(text):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def events_routes(relay: Relay, guard: Guard) -> list[web.RouteDef]:
    return EventsSocket(relay, guard).routes()
