"""ICE servers for clients and for the relay's own peers, with TURN REST credentials.

coturn's ``use-auth-secret`` mode: the username is ``<expiry unix time>:<subject>`` and the
password is base64(HMAC-SHA1(secret, username)), so any relay holding the secret mints
short-lived credentials without a user database. Clients get them in RFC 9725 ``Link`` headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from aiortc import RTCIceServer

from ..config import Config


@dataclass(frozen=True)
class IceServer:
    url: str
    username: str | None = None
    credential: str | None = None

    def link(self) -> str:
        """As an RFC 9725 ``Link`` header value."""
        value = f'<{self.url}>; rel="ice-server"'
        if self.username is not None and self.credential is not None:
            value += (f'; username="{self.username}"; credential="{self.credential}"'
                      '; credential-type="password"')
        return value

    def for_aiortc(self) -> RTCIceServer:
        return RTCIceServer(self.url, username=self.username, credential=self.credential)

    def as_json(self) -> dict[str, str]:
        out = {"urls": self.url}
        if self.username is not None and self.credential is not None:
            out.update(username=self.username, credential=self.credential)
        return out


_LINK = re.compile(r'^\s*<([^>]+)>(.*)$')
_PARAM = re.compile(r';\s*([a-zA-Z-]+)="?([^";]*)"?')


def parse_links(values: list[str]) -> list[RTCIceServer]:
    """ICE servers from RFC 9725 ``Link: <url>; rel="ice-server"; ...`` header values."""
    servers: list[RTCIceServer] = []
    for value in values:
        for link in re.split(r",\s*(?=<)", value):
            m = _LINK.match(link)
            if not m:
                continue
            params = {k.lower(): v for k, v in _PARAM.findall(m.group(2))}
            if params.get("rel") != "ice-server":
                continue
            servers.append(RTCIceServer(m.group(1), username=params.get("username"),
                                        credential=params.get("credential")))
    return servers


def link_targets(values: list[str], rel: str) -> list[str]:
    """The targets of ``Link`` header values whose ``rel`` is ``rel`` (RFC 8288)."""
    out: list[str] = []
    for value in values:
        for link in re.split(r",\s*(?=<)", value):
            m = _LINK.match(link)
            if m and {k.lower(): v for k, v in _PARAM.findall(m.group(2))}.get("rel") == rel:
                out.append(m.group(1))
    return out


def turn_credentials(secret: str, subject: str, ttl_s: int, now: float | None = None
                     ) -> tuple[str, str]:
    expiry = int(now if now is not None else time.time()) + ttl_s
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", subject)[:64] or "window"
    username = f"{expiry}:{safe}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(cfg: Config, subject: str, expires_at: float | None = None
                ) -> list[IceServer]:
    """The configured STUN/TURN servers, TURN ones with fresh credentials for ``subject``.

    ``expires_at``: the Unix time the client's token ends; TURN credentials never outlive it
    (at most ``turn.credential_ttl_s``). A token that has ended gets no TURN server.
    """
    out: list[IceServer] = []
    turn = cfg.turn
    ttl = turn.credential_ttl_s
    if expires_at is not None:
        ttl = min(ttl, int(expires_at - time.time()))
    creds: tuple[str, str] | None = None
    for url in turn.urls:
        if url.startswith("turn"):
            if ttl <= 0:
                continue
            creds = creds or turn_credentials(turn.secret, subject, ttl)
            out.append(IceServer(url, *creds))
        else:
            out.append(IceServer(url))
    return out


def relay_ice_servers(cfg: Config) -> list[RTCIceServer]:
    """What the relay's own peer connections use."""
    servers = [RTCIceServer(url) for url in cfg.server.ice_servers]
    if cfg.turn.relay_uses_turn:
        servers += [s.for_aiortc() for s in ice_servers(cfg, "relay")]
    return servers
