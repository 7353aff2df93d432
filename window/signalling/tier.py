"""The audience tier: one more door for viewers, behind which an existing SFU serves them.

A site with ``[sites.NAME.tier]`` has one or more tier instances (Janus with
``janus-whep-server``), each fed once by a push of the site's feed. A viewer's ``POST
/whep/{site}`` is checked at our door as always (token 401, site 404, permission 403); then,
if the tier takes this viewer (``use``: always, or only when the relay is at capacity;
never a partner's screen or an operator), the viewer is handed over:

- ``proxy``: the relay posts the viewer's offer to the tier's WHEP endpoint with the tier's
  own credential and returns the tier's answer under a session path of ours
  (``/whep/{site}/{id}``). Media flows between viewer and Janus; PATCH, DELETE, revocation
  and expiry still come through here and are passed on with the tier's credential.
- ``redirect``: ``307`` to the tier's endpoint with a ticket in the query (an HMAC of site,
  expiry, the token's expiry and a nonce under the tier's credential), which
  ``tools/janus/whep-server.mjs`` checks; browsers drop the ``Authorization`` header on a
  cross-origin redirect, so the ticket is what opens the tier's door: once, for
  ``ticket_ttl_s`` seconds and one site. The relay remembers whose ticket it was
  (``Redirected``) and has the tier hang up what it opened on revocation, a kick or the
  token's expiry (``DELETE {base}/ticket/{nonce}``); the tier ends it at the token's expiry
  by itself too.

Before either, the viewer's token passes its session cap (``admission``, ``429`` beyond): a
viewer handed over keeps counting against its token while open (``held_by``). After either,
the site's encoder makes keyframes for the new viewer (``JOIN_KEYFRAMES_S``).

If the tier does not answer (down, refused, slow), the viewer is served by the relay itself
when it has room. Every ten seconds the instances' ``/stats`` are polled (reachable, viewers
there); sessions whose token expired are hung up at the tier.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp

from ..auth.roles import Role
from ..auth.tokens import Grant
from ..config import Config, TierConfig
from ..errors import NotFound
from ..events import EventBus
from ..media.push import safe_url
from .session import new_session_id

log = logging.getLogger("window.tier")

POLL_INTERVAL_S = 10.0
# After a hand-over, the site's encoder makes keyframes at these delays (seconds): Janus's
# Streaming plugin passes a new viewer's keyframe request on to its source only on a
# one-second tick (measured: 60 to 1040 ms after the answer), so the relay, which knows when
# a viewer joins the tier, asks for one itself once the viewer's DTLS is likely up. The
# encoder's throttle (media.keyframe_min_interval_ms) bounds what a burst of joins costs.
JOIN_KEYFRAMES_S = (0.08, 0.25, 0.6)


class TierUnavailable(Exception):
    """No tier instance answered; the caller serves the viewer itself."""


def mint_ticket(credential: str, site: str, ttl_s: int, until: int, nonce: str | None = None,
                now: float | None = None) -> str:
    """``{expiry}.{until}.{nonce}.{hmac}``: lets one viewer through the tier's door for one
    site, once (the tier remembers ``nonce``) and briefly; the session it opens ends at
    ``until`` (the viewer's token's expiry) at the latest."""
    exp = int((now if now is not None else time.time()) + ttl_s)
    nonce = nonce or secrets.token_hex(16)
    mac = hmac.new(credential.encode(), f"{site}.{exp}.{until}.{nonce}".encode(),
                   hashlib.sha256).hexdigest()
    return f"{exp}.{until}.{nonce}.{mac}"


def check_ticket(credential: str, site: str, ticket: str, now: float | None = None) -> bool:
    """The check the tier's launcher makes (mirrored in tools/janus/whep-server.mjs; the
    launcher also refuses a nonce it has seen)."""
    parts = ticket.split(".")
    if len(parts) != 4 or not (parts[0].isdigit() and parts[1].isdigit()):
        return False
    exp, until, nonce, mac = parts
    t = now if now is not None else time.time()
    if int(exp) < t or int(until) < t:
        return False
    good = hmac.new(credential.encode(), f"{site}.{exp}.{until}.{nonce}".encode(),
                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(good, mac)


@dataclass
class Instance:
    """One tier instance's WHEP endpoint for one site, and what we know of it."""

    url: str
    reachable: bool | None = None  # None: not polled yet
    viewers: int | None = None  # as the tier reports them
    handed: int = 0  # viewers the relay handed over since start
    open: int = 0  # handed by proxy and not hung up
    failures: int = 0
    last_error: str = ""

    @property
    def label(self) -> str:
        """The URL without user info or query, for logs, status and metrics."""
        return safe_url(self.url)

    @property
    def base(self) -> str:
        """``http://host:port/whep``: where the launcher's own paths are."""
        base, sep, _ = self.url.rpartition("/endpoint/")
        return base if sep else ""

    @property
    def stats_url(self) -> str:
        return self.base + "/stats" if self.base else ""

    def ticket_url(self, nonce: str) -> str:
        return f"{self.base}/ticket/{nonce}"

    @property
    def endpoint_id(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(eq=False)
class TierSession:
    """A viewer the relay handed to the tier by proxy: its resource there, and its owner."""

    site: str
    grant: Grant
    remote: str
    instance: Instance
    resource: str  # absolute URL of the WHEP session at the tier
    id: str = field(default_factory=new_session_id)
    etag: str = '"tier"'
    created: float = field(default_factory=time.monotonic)

    @property
    def path(self) -> str:
        return f"/whep/{self.site}/{self.id}"

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "kind": "viewer", "site": self.site, "role": str(self.grant.role),
                "subject": self.grant.subject, "jti": self.grant.jti, "remote": self.remote,
                "state": "tier", "tier": self.instance.label,
                "age_s": round(time.monotonic() - self.created, 1)}


@dataclass(eq=False)
class Redirected:
    """A viewer sent to the tier with a ``307`` and a ticket: what the relay needs to hang it
    up there (``DELETE {base}/ticket/{nonce}``) on revocation, a kick or its token's expiry."""

    site: str
    grant: Grant
    remote: str
    instance: Instance
    nonce: str
    ticket_expires: float  # after this, an unused ticket is of no use
    id: str = field(default_factory=new_session_id)
    created: float = field(default_factory=time.monotonic)
    live: bool = False  # the tier reported the session open

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "kind": "viewer", "site": self.site, "role": str(self.grant.role),
                "subject": self.grant.subject, "jti": self.grant.jti, "remote": self.remote,
                "state": "tier (307)", "tier": self.instance.label,
                "age_s": round(time.monotonic() - self.created, 1)}


def _credential(tier: TierConfig) -> str:
    if tier.token_file:
        return Path(tier.token_file).read_text().strip()
    return tier.token


def _same_origin(a: str, b: str) -> bool:
    sa, sb = urlsplit(a), urlsplit(b)
    return (sa.scheme, sa.netloc) == (sb.scheme, sb.netloc)


class SiteTier:
    """The tier of one site: its instances and the sessions handed to them."""

    def __init__(self, site: str, cfg: TierConfig) -> None:
        self.site = site
        self.cfg = cfg
        self.credential = _credential(cfg)
        self.instances = [Instance(url) for url in cfg.whep_urls]
        self.redirects = 0
        self.fallbacks = 0
        self._next = 0

    def pick(self) -> list[Instance]:
        """Instances in the order to try: reachable first, fewest handed-and-open first."""
        self._next = (self._next + 1) % max(1, len(self.instances))
        rotated = self.instances[self._next:] + self.instances[:self._next]
        return sorted(rotated, key=lambda i: (i.reachable is False, max(i.viewers or 0, i.open)))


class TierDoor:
    """Every site's tier: hands viewers over, passes on PATCH/DELETE, polls the instances."""

    def __init__(self, cfg: Config, events: EventBus | None = None,
                 keyframe: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.events = events
        self.keyframe = keyframe  # the site's encoder: a keyframe soon
        self._later: set[asyncio.TimerHandle] = set()
        self.sites = {name: SiteTier(name, s.tier) for name, s in cfg.sites.items()
                      if s.tier.whep_urls and s.tier.use != "off"}
        self.sessions: dict[str, TierSession] = {}
        self.redirected: dict[str, Redirected] = {}
        self._http: aiohttp.ClientSession | None = None
        self._poller: asyncio.Task[None] | None = None

    # life cycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.sites:
            return
        self._http = aiohttp.ClientSession()
        self._poller = asyncio.create_task(self._poll_loop(), name="tier-poll")

    def joined(self, site: str) -> None:
        """A viewer was handed over: keyframes for it shortly (see ``JOIN_KEYFRAMES_S``)."""
        if self.keyframe is None:
            return
        loop = asyncio.get_running_loop()
        for delay in JOIN_KEYFRAMES_S:
            self._later.add(loop.call_later(delay, self._keyframe_now, site))

    def _keyframe_now(self, site: str) -> None:
        self._later = {h for h in self._later if not h.cancelled() and
                       h.when() > asyncio.get_running_loop().time()}
        if self.keyframe is not None:
            self.keyframe(site)

    async def close(self) -> None:
        for handle in self._later:
            handle.cancel()
        self._later.clear()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        await asyncio.gather(*(self._hang_up(s, "shutdown") for s in list(self.sessions.values())),
                             return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    # the decision -----------------------------------------------------------------------------
    def takes(self, site: str, grant: Grant, relay_full: bool) -> SiteTier | None:
        """The site's tier if this viewer goes there. Screens and operators stay with us."""
        tier = self.sites.get(site)
        if tier is None or grant.role is not Role.VIEWER:
            return None
        if tier.cfg.use == "overflow" and not relay_full:
            return None
        return tier

    def redirect_url(self, tier: SiteTier, grant: Grant, remote: str) -> str:
        """The tier's endpoint with a single-use ticket; the relay remembers whose it is."""
        instance = tier.pick()[0]
        instance.handed += 1
        tier.redirects += 1
        nonce = secrets.token_hex(16)
        ticket = mint_ticket(tier.credential, instance.endpoint_id, tier.cfg.ticket_ttl_s,
                             grant.expires_at, nonce)
        handed = Redirected(tier.site, grant, remote, instance, nonce,
                            time.time() + tier.cfg.ticket_ttl_s)
        self.redirected[handed.id] = handed
        self._changed(tier.site)
        self.joined(tier.site)
        sep = "&" if "?" in instance.url else "?"
        return instance.url + sep + urlencode({"ticket": ticket})

    # proxy ------------------------------------------------------------------------------------
    def _headers(self, tier: SiteTier, content_type: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {tier.credential}"}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def proxy(self, tier: SiteTier, offer: str, grant: Grant, remote: str
                    ) -> tuple[TierSession, str]:
        """Hand ``offer`` to the first instance that answers; ``TierUnavailable`` if none."""
        assert self._http is not None
        timeout = aiohttp.ClientTimeout(total=tier.cfg.timeout_s)
        for instance in tier.pick():
            try:
                async with self._http.post(instance.url, data=offer, timeout=timeout,
                                           headers=self._headers(tier, "application/sdp"),
                                           allow_redirects=False) as resp:
                    body = await resp.text()
                    location = resp.headers.get("Location", "")
                    if resp.status != 201 or not location:
                        raise ValueError(f"{resp.status} {body.strip()[:120]}")
            except (TimeoutError, aiohttp.ClientError, ValueError) as e:
                instance.failures += 1
                instance.last_error = str(e)[:200] or type(e).__name__
                log.warning("tier refused a viewer", extra={"site": tier.site,
                                                           "tier": instance.label,
                                                           "reason": instance.last_error})
                continue
            resource = urljoin(instance.url, location)
            if not _same_origin(resource, instance.url):
                instance.failures += 1
                instance.last_error = "session Location on another host"
                log.warning("tier answered with a foreign Location",
                            extra={"site": tier.site, "tier": instance.label})
                continue
            session = TierSession(tier.site, grant, remote, instance, resource)
            instance.handed += 1
            instance.open += 1
            instance.reachable = True
            self.sessions[session.id] = session
            self._changed(tier.site)
            self.joined(tier.site)
            return session, body
        tier.fallbacks += 1
        raise TierUnavailable(tier.site)

    def held_by(self, jti: str) -> int:
        """Sessions of token id ``jti`` open at the tier (they count against its cap): by
        proxy, and by redirect while the tier reports them or their ticket may still be used."""
        now = time.time()
        return (sum(1 for s in self.sessions.values() if s.grant.jti == jti)
                + sum(1 for r in self.redirected.values()
                      if r.grant.jti == jti and (r.live or now <= r.ticket_expires)))

    def session(self, site: str, session_id: str) -> TierSession | None:
        s = self.sessions.get(session_id)
        return s if s is not None and s.site == site else None

    async def patch(self, session: TierSession, content_type: str, text: str) -> int:
        """Pass a trickle fragment on; returns the tier's status (204 expected)."""
        assert self._http is not None
        tier = self.sites[session.site]
        headers = {**self._headers(tier, content_type), "If-Match": "*"}
        try:
            async with self._http.patch(session.resource, data=text, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=tier.cfg.timeout_s)
                                        ) as resp:
                return resp.status
        except (TimeoutError, aiohttp.ClientError):
            return 502

    async def end(self, session: TierSession, reason: str) -> None:
        await self._hang_up(session, reason)

    async def kick_subject(self, jti: str) -> int:
        victims = [s for s in self.sessions.values() if s.grant.jti == jti]
        for s in victims:
            await self._hang_up(s, "revoked")
        sent = [r for r in self.redirected.values() if r.grant.jti == jti]
        ended = [await self.end_redirected(r, "revoked") for r in sent]
        return len(victims) + sum(ended)

    async def end_redirected(self, handed: Redirected, reason: str) -> bool:
        """Hang up at the tier what ``handed``'s ticket opened, and spend the ticket; True if
        the tier had a session open with it."""
        if self.redirected.pop(handed.id, None) is None:
            return False
        tier = self.sites[handed.site]
        ended = False
        if self._http is not None:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with self._http.delete(handed.instance.ticket_url(handed.nonce),
                                             headers=self._headers(tier),
                                             timeout=aiohttp.ClientTimeout(total=3)) as resp:
                    ended = resp.status == 200
        log.info("tier session closed", extra={"session": handed.id[:8], "site": handed.site,
                                               "reason": reason, "handoff": "redirect"})
        self._changed(handed.site)
        return ended

    async def _hang_up(self, session: TierSession, reason: str) -> None:
        if self.sessions.pop(session.id, None) is None:
            return
        session.instance.open -= 1
        tier = self.sites[session.site]
        if self._http is not None:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with self._http.delete(session.resource, headers=self._headers(tier),
                                             timeout=aiohttp.ClientTimeout(total=3)):
                    pass
        log.info("tier session closed", extra={"session": session.id[:8], "site": session.site,
                                               "reason": reason})
        self._changed(session.site)

    # figures ----------------------------------------------------------------------------------
    def viewers_of(self, site: str) -> list[TierSession]:
        return [s for s in self.sessions.values() if s.site == site]

    def redirected_of(self, site: str) -> list[Redirected]:
        return [r for r in self.redirected.values() if r.site == site]

    def _changed(self, site: str) -> None:
        if self.events is not None:
            self.events.publish({"type": "tier", "site": site,
                                 "handed": len(self.viewers_of(site))})

    def snapshot(self, site: str) -> dict[str, Any] | None:
        tier = self.sites.get(site)
        if tier is None:
            return None
        reported = [i.viewers for i in tier.instances if i.viewers is not None]
        return {
            "use": tier.cfg.use,
            "handoff": tier.cfg.handoff,
            "connected": any(i.reachable for i in tier.instances),
            "viewers": sum(reported) if reported else None,
            "open_here": len(self.viewers_of(site)),
            "redirected_open": sum(1 for r in self.redirected_of(site) if r.live),
            "redirects": tier.redirects,
            "fallbacks": tier.fallbacks,
            "instances": [{"url": i.label, "reachable": i.reachable, "viewers": i.viewers,
                           "handed": i.handed, "failures": i.failures,
                           "last_error": i.last_error} for i in tier.instances],
        }

    # polling ----------------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(POLL_INTERVAL_S)

    async def poll_once(self) -> None:
        assert self._http is not None
        now = time.time()
        for s in [s for s in self.sessions.values() if s.grant.expires_at < now]:
            await self._hang_up(s, "token expired")
        for r in [r for r in self.redirected.values() if r.grant.expires_at < now]:
            await self.end_redirected(r, "token expired")
        for tier in self.sites.values():
            for instance in tier.instances:
                await self._poll(tier, instance)

    async def _poll(self, tier: SiteTier, instance: Instance) -> None:
        assert self._http is not None
        was = instance.reachable
        tickets: set[str] = set()
        try:
            async with self._http.get(instance.stats_url, headers=self._headers(tier),
                                      timeout=aiohttp.ClientTimeout(total=3)) as resp:
                if resp.status != 200:
                    raise ValueError(f"stats: {resp.status}")
                data = await resp.json(content_type=None)
            counts = {str(e.get("id")): int(e.get("subscribers", 0))
                      for e in data.get("endpoints", [])}
            tickets = {str(t) for t in data.get("tickets", [])}
            instance.viewers = counts.get(instance.endpoint_id)
            instance.reachable = True
        except (TimeoutError, aiohttp.ClientError, ValueError, TypeError, AttributeError) as e:
            instance.reachable = False
            instance.viewers = None
            instance.last_error = str(e)[:200] or type(e).__name__
        if was is not instance.reachable:
            log.info("tier instance " + ("up" if instance.reachable else "down"),
                     extra={"site": tier.site, "tier": instance.label})
        # Ticket sessions the tier no longer has (or never had, once the ticket is spent).
        if instance.reachable:
            for r in [r for r in self.redirected.values() if r.instance is instance]:
                r.live = r.nonce in tickets
                if not r.live and time.time() > r.ticket_expires:
                    self.redirected.pop(r.id, None)
        # Viewers that left without a DELETE: the tier no longer counts them; forget ours.
        if instance.viewers is not None:
            mine = sorted((s for s in self.sessions.values() if s.instance is instance),
                          key=lambda s: s.created)
            stale = mine[:max(0, len(mine) - instance.viewers)]
            for s in stale:
                if time.monotonic() - s.created > self.cfg.server.connect_timeout_s:
                    self.sessions.pop(s.id, None)
                    instance.open -= 1


def require(door: TierDoor, site: str, session_id: str) -> TierSession:
    s = door.session(site, session_id)
    if s is None:
        raise NotFound("no such session")
    return s
