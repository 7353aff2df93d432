"""Pushing a site's processed feed to a partner relay (or any WHIP endpoint).

A push is one more viewer of the feed: it subscribes to the feed's shared VP8 encoding like a
WHEP viewer (``Feed.subscribe``), so what it sends is exactly what viewers get, after the
privacy step, slates included, with no extra encode. Its peer connection is the WHIP client
of the camera agent (``window.camera.publisher.WhipPublisher``: backoff with jitter,
``Retry-After``, RTCP liveness, ``DELETE`` of the session on the way out), given the feed's
track instead of a camera, configured by ``[[sites.NAME.push]]`` (``url``, ``token`` or
``token_file``, re-read before every attempt so a rotated token is picked up).

Keyframe requests (PLI/FIR) of the far side go to the shared encoder, throttled as for any
viewer; NACKs are answered by aiortc's sender from its RTP history (with RTX when the far
side offers it). While the feed's privacy mode is ``off`` nothing is pushed: no session is
started, a running one is ended, and the track drops every packet (``FeedTrack.gate``).

``Pushes`` owns every push of a relay: started with the relay, each a task of its own, and
on shutdown each ``DELETE``s its session before the feeds close.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiortc import RTCPeerConnection, RTCRtpSender

from ..camera.publisher import WhipPublisher
from ..config import Config, PrivacyMode, PushConfig
from ..signalling.ice_servers import relay_ice_servers
from .feed_track import FeedTrack
from .source_state import StateReporter

if TYPE_CHECKING:
    from .feed import Feed

log = logging.getLogger("window.push")

# Seconds the pushes get on shutdown to DELETE their sessions.
CLOSE_TIMEOUT_S = 5.0


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (which might hold a secret)."""
    u = urllib.parse.urlsplit(url)
    host = u.hostname or ""
    if u.port:
        host += f":{u.port}"
    return urllib.parse.urlunsplit((u.scheme, host, u.path, "", ""))


class Push(WhipPublisher):
    """Keeps ``feed`` pushed to one WHIP endpoint; see the module doc."""

    def __init__(self, feed: Feed, push: PushConfig, cfg: Config, index: int = 0,
                 **kwargs: Any) -> None:
        self.feed = feed
        self.push = push
        self.index = index
        self.target = safe_url(push.url)
        kwargs.setdefault("ice_servers", relay_ice_servers(cfg))
        super().__init__(push.url, feed.name, push.token, None, endpoint=push.url,
                         name=f"push {feed.name} to {self.target}", **kwargs)
        self.log = log
        self._track: FeedTrack | None = None
        self._sender: Any = None
        self.held_reason: str | None = None
        self.rtt_ms: float | None = None
        self.packets_lost: int | None = None
        self.fraction_lost: float | None = None
        self._rate: tuple[float, int] | None = None
        self._http: aiohttp.ClientSession | None = None
        self.reporter = StateReporter()  # the feed's state, to a partner that asks for it

    # what may be pushed -----------------------------------------------------------------------
    def _privacy_ok(self) -> bool:
        return self.feed.privacy.mode is not PrivacyMode.OFF

    def still_allowed(self) -> bool:
        return self._privacy_ok()

    def _read_token(self) -> str:
        return Path(self.push.token_file).read_text(encoding="utf-8").strip()

    async def allowed(self, stop: asyncio.Event) -> None:
        """Wait while privacy is off; (re)read ``token_file``."""
        while not stop.is_set():
            reason = None
            if not self._privacy_ok():
                reason = "privacy mode is off: this feed is not pushed"
            elif self.push.token_file:
                try:
                    self._token = await asyncio.to_thread(self._read_token)
                    if not self._token:
                        reason = f"token file {self.push.token_file} is empty"
                except OSError as e:
                    reason = f"cannot read token file {self.push.token_file}: {e.strerror}"
            if reason is None:
                self.held_reason = None
                return
            if reason != self.held_reason:
                self.log.error("%s: held: %s", self.name, reason)
            self.held_reason = reason
            self.last_error = reason
            self.state = "held"
            stop_wait = asyncio.ensure_future(stop.wait())
            await asyncio.wait([stop_wait], timeout=1.0)
            stop_wait.cancel()

    # the feed as a track ----------------------------------------------------------------------
    def add_media(self, pc: RTCPeerConnection) -> Any:
        track = self.feed.subscribe("vp8")
        track.gate = self._privacy_ok
        self._track = track
        transceiver = pc.addTransceiver(track, direction="sendonly")
        caps = RTCRtpSender.getCapabilities("video")
        transceiver.setCodecPreferences(
            [c for c in caps.codecs if c.mimeType.lower() in ("video/vp8", "video/rtx")])
        # PLI/FIR from the far side: the shared encoder (or the partner we forward).
        transceiver.sender._send_keyframe = track.request_keyframe  # type: ignore[method-assign]
        self._sender = transceiver.sender

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                track.request_keyframe()

        return transceiver.sender

    def release_media(self) -> None:
        if self._track is not None:
            self.feed.unsubscribe(self._track)
            self._track = None
        self._sender = None
        self._rate = None

    async def _post(self, http: aiohttp.ClientSession, offer: str, pc: RTCPeerConnection
                    ) -> Any:
        self._http = http
        result = await super()._post(http, offer, pc)
        if result is None:  # the session is set up
            self.reporter.start(self.location, self.links)
        return result

    async def _last_report(self, sender: Any) -> Any:
        """(Twice a second while connected.) Also tells the partner the feed's state."""
        if self._http is not None:
            await self.reporter.report(self._http, str(self.feed.state()), self._headers())
        stats = await sender.getStats()
        reports = [s for s in stats.values() if s.type == "remote-inbound-rtp"]
        for s in reports:
            if s.roundTripTime is not None:
                self.rtt_ms = round(s.roundTripTime * 1000, 1)
            self.packets_lost = s.packetsLost
            self.fraction_lost = round(s.fractionLost / 256, 4)
        return tuple(sorted((s.id, s.timestamp) for s in reports))

    # figures ----------------------------------------------------------------------------------
    def _kbps(self) -> float | None:
        track = self._track
        if track is None:
            return None
        now = time.monotonic()
        last, self._rate = self._rate, (now, track.bytes_sent)
        if last is None or now - last[0] < 0.2:
            return None
        return round((track.bytes_sent - last[1]) * 8 / 1000 / (now - last[0]), 1)

    def snapshot(self) -> dict[str, Any]:
        connected = self.state == "connected"
        return {
            "url": self.target,
            "state": self.state,
            "since": round(self.since, 1),
            "bitrate_kbps": self._kbps() if connected else None,
            "rtt_ms": self.rtt_ms if connected else None,
            "packets_lost": self.packets_lost,
            "fraction_lost": self.fraction_lost if connected else None,
            "reconnects": max(0, self.sessions - 1),
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "held": self.held_reason,
            "state_sent": self.reporter.sent if connected else None,
        }


class Pushes:
    """Every push of a relay, owned: started with it, stopped (and DELETEd) before it closes."""

    def __init__(self, cfg: Config, feeds: dict[str, Feed]) -> None:
        self.cfg = cfg
        self.feeds = feeds
        self.pushes: list[Push] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[int]] = []

    def start(self) -> None:
        """Start every push of the configuration."""
        for name, site in self.cfg.sites.items():
            for push in site.push:
                self.add(name, push)

    def add(self, site: str, push: PushConfig, **kwargs: Any) -> Push:
        """Start one more push of ``site`` (``window demo --two-relays`` wires two relays
        whose ports are known only once they listen)."""
        index = len(self.of(site))
        p = Push(self.feeds[site], push, self.cfg, index, **kwargs)
        self.pushes.append(p)
        self._tasks.append(asyncio.create_task(p.run(self._stop), name=f"push-{site}-{index}"))
        log.info("pushing", extra={"site": site, "to": p.target})
        return p

    def of(self, site: str) -> list[Push]:
        return [p for p in self.pushes if p.site == site]

    async def close(self) -> None:
        self._stop.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT_S)
        for t in pending:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
