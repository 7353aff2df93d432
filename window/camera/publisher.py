"""WHIP publisher: keeps one camera source published to the relay, unattended, forever.

One session: a fresh aiortc ``RTCPeerConnection`` with a sendonly transceiver for a view of
the source, ICE gathered completely (aiortc does not trickle), the offer POSTed to
``{server}/whip/{site}`` (``Content-Type: application/sdp``, ``Authorization: Bearer``),
``201`` + ``Location`` + SDP answer expected. The session is then watched: it ends when the
connection state becomes ``failed``/``closed``, when it does not connect within
``connect_timeout``, or when the relay stops sending RTCP receiver reports for
``rtcp_timeout`` seconds (a relay that crashed or restarted never says goodbye; ICE consent
alone would take ~30 s to notice). Ending a session always DELETEs its ``Location`` (best
effort, short timeout) and closes the peer connection.

Retry policy, chosen for a device nobody watches:

* Network errors, 5xx, failed or dead connections: capped exponential backoff with jitter,
  0.5 s doubling to 30 s (each delay plus up to 20 % random), reset once a session has stayed
  up for a minute.
* ``503``, ``429`` (the token holds all its sessions) and ``409`` (the site's camera is live
  under another token): wait what ``Retry-After`` says (seconds or an HTTP date, clamped to
  1 s..10 min), else the backoff.
* ``401``/``403``/``404`` (and any other 4xx) are not transient, but the agent does **not**
  exit: it logs one clear error line per attempt and retries slowly (every ``slow_retry``
  seconds, 60 by default). An operator can re-issue a token, fix the site or restart the
  relay without anyone visiting the device; a process that exits would depend on a
  supervisor's restart policy and hammer the relay, or stay dead.
* The process only ends when asked: ``stop`` set, task cancelled, SIGINT or SIGTERM. Then the
  current session is DELETEd (the feed shows the offline slate at once) and closed.

ICE: the STUN/TURN servers the relay hands out in ``Link`` headers (RFC 9725; TURN with
short-lived credentials minted per session), fetched before every session; ``ice_servers``
overrides them. A relay without any gives host candidates only, which is enough for a relay
with a public address; a device never waits on a third-party STUN server.

The token is never logged; nor is the ``Authorization`` header or any URL containing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import enum
import logging
import random
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from ..signalling.ice_servers import parse_links
from .sources import VideoSource

log = logging.getLogger("window.camera")


@dataclass
class Backoff:
    """Capped exponential backoff with jitter: ``initial`` doubling up to ``cap``, each delay
    plus up to ``jitter`` × delay at random."""

    initial: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    _attempt: int = 0

    def next(self) -> float:
        base = min(self.cap, self.initial * self.factor**self._attempt)
        self._attempt += 1
        return base + random.uniform(0.0, self.jitter * base)

    def reset(self) -> None:
        self._attempt = 0


class Outcome(enum.Enum):
    STOPPED = "stopped"  # asked to stop
    ENDED = "ended"  # a connected session ended (failed, closed, dead)
    ERROR = "error"  # transient: network, 5xx, did not connect
    REFUSED = "refused"  # 4xx: needs an operator (token, site), retry slowly
    BUSY = "busy"  # 503


@dataclass
class _Result:
    outcome: Outcome
    retry_after: float | None = None
    connected_for: float = 0.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _reason(body: str) -> str:
    line = body.strip().splitlines()[0] if body.strip() else ""
    return line[:200]


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` at most ``seconds``; True if it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), max(0.0, seconds))
    return event.is_set()


class WhipPublisher:
    """Publishes ``source`` to ``{server}/whip/{site}`` until stopped; see the module doc."""

    def __init__(
        self,
        server: str,
        site: str,
        token: str,
        source: VideoSource | None,
        *,
        backoff: Backoff | None = None,
        slow_retry: float = 60.0,
        stable_after: float = 60.0,
        connect_timeout: float = 15.0,
        rtcp_timeout: float = 10.0,
        http_timeout: float = 10.0,
        ice_servers: list[RTCIceServer] | None = None,
        endpoint: str | None = None,
        name: str | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.site = site
        self.name = name or f"camera {site}"  # how log lines name this client
        self.log = log
        self._token = token
        self.source = source
        self.backoff = backoff or Backoff()
        self.slow_retry = slow_retry
        self.stable_after = stable_after
        self.connect_timeout = connect_timeout
        self.rtcp_timeout = rtcp_timeout
        self.http_timeout = http_timeout
        self.ice_servers = list(ice_servers or [])
        self.endpoint = endpoint or f"{self.server}/whip/{urllib.parse.quote(site)}"
        # Observable state, for logs, tests and a status page.
        self._state = "idle"
        self.since = time.time()  # when ``state`` last changed (UNIX time)
        self.last_error: str | None = None
        self.attempts = 0
        self.sessions = 0
        self.last_status: int | None = None
        self.location: str | None = None
        self.etag: str | None = None
        self.links: list[str] = []  # the Link header values of the last 201

    def __repr__(self) -> str:  # never show the token
        return f"{type(self).__name__}({self.endpoint!r}, state={self.state!r})"

    @property
    def state(self) -> str:
        """idle, connecting, connected, waiting, held (not allowed now) or stopped."""
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        if value != self._state:
            self._state = value
            self.since = time.time()

    # Hooks for other WHIP clients built on this one (window.media.push) ------------------------

    def token(self) -> str:
        """The bearer token for the next request."""
        return self._token

    def add_media(self, pc: RTCPeerConnection) -> Any:
        """Add what is published to ``pc``; returns the RTCRtpSender."""
        if self.source is None:
            raise ValueError("nothing to publish")
        transceiver = pc.addTransceiver(self.source.view(), direction="sendonly")
        if self.source.codec:  # encoded passthrough: offer only that codec
            caps = RTCRtpSender.getCapabilities("video").codecs
            transceiver.setCodecPreferences(
                [c for c in caps if c.mimeType.lower() in (self.source.codec.lower(),
                                                             "video/rtx")])
        return transceiver.sender

    def release_media(self) -> None:
        """The session's peer connection is closed: let go of what ``add_media`` took."""

    async def allowed(self, stop: asyncio.Event) -> None:
        """Return when a session may be started (always, for a camera)."""

    def still_allowed(self) -> bool:
        """Checked while a session runs: False ends it at once."""
        return True

    async def run(self, stop: asyncio.Event) -> int:
        """Publish until ``stop`` is set (or the task is cancelled); returns 0."""
        timeout = aiohttp.ClientTimeout(total=self.http_timeout)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                while not stop.is_set():
                    await self.allowed(stop)
                    if stop.is_set():
                        break
                    result = await self._session(http, stop)
                    if result.outcome is Outcome.STOPPED or stop.is_set():
                        break
                    delay = self._delay(result)
                    self.state = "waiting"
                    self.log.info("%s: retrying in %.1f s", self.name, delay)
                    await _wait(stop, delay)
        finally:
            self.state = "stopped"
        self.log.info("%s: stopped", self.name)
        return 0

    def _delay(self, result: _Result) -> float:
        if result.connected_for >= self.stable_after:
            self.backoff.reset()
        if result.outcome is Outcome.REFUSED:
            return max(self.slow_retry, self.backoff.next())
        if result.outcome is Outcome.BUSY and result.retry_after is not None:
            self.backoff.next()  # still escalate, in case the hint is wrong
            wait = min(600.0, max(1.0, result.retry_after))
            return wait + random.uniform(0.0, 0.1 * wait)
        return self.backoff.next()

    # ------------------------------------------------------------------ one session

    async def _discover_ice_servers(self, http: aiohttp.ClientSession) -> list[RTCIceServer]:
        """The relay's STUN/TURN servers with fresh credentials, from an authenticated
        OPTIONS (RFC 9725 section 4.4); none when it offers none or cannot be asked."""
        try:
            async with http.options(self.endpoint, headers=self._headers()) as resp:
                return parse_links(resp.headers.getall("Link", []))
        except (aiohttp.ClientError, TimeoutError):
            return []

    async def _session(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> _Result:
        self.attempts += 1
        self.state = "connecting"
        self.location = None
        servers = self.ice_servers or await self._discover_ice_servers(http)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        changed = asyncio.Event()

        @pc.on("connectionstatechange")
        def on_state() -> None:
            self.log.debug("%s: connection %s", self.name, pc.connectionState)
            changed.set()

        async def forward_stop() -> None:
            await stop.wait()
            changed.set()

        stopper = asyncio.create_task(forward_stop())
        try:
            sender = self.add_media(pc)
            await pc.setLocalDescription(await pc.createOffer())  # gathers all candidates
            result = await self._post(http, pc.localDescription.sdp, pc)
            if result is not None:
                return result
            return await self._watch(pc, sender, changed, stop)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.last_error = exc.__class__.__name__ + (f" {exc}" if str(exc) else "")
            self.log.warning("%s: cannot reach %s: %s", self.name, self.endpoint, self.last_error)
            return _Result(Outcome.ERROR)
        except Exception as exc:  # a bad answer, an aiortc error: retry, never die
            self.last_error = repr(exc)[:200]
            self.log.warning("%s: session failed: %r", self.name, exc)
            return _Result(Outcome.ERROR)
        finally:
            stopper.cancel()
            await self._teardown(http, pc)
            self.release_media()

    def _headers(self, content_type: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token()}"}
        if content_type:
            headers["Content-Type"] = "application/sdp"
        return headers

    async def _post(
        self, http: aiohttp.ClientSession, offer: str, pc: RTCPeerConnection
    ) -> _Result | None:
        """POST the offer; None when the session is set up, else why it is not."""
        async with http.post(self.endpoint, data=offer.encode(),
                             headers=self._headers(content_type=True)) as resp:
            body = await resp.text(errors="replace")
            self.last_status = resp.status
            if resp.status != 201:
                self.last_error = f"{resp.status} {_reason(body)}".strip()
            if resp.status == 201:
                location = resp.headers.get("Location")
                if location:
                    self.location = urllib.parse.urljoin(self.server + "/", location)
                self.etag = resp.headers.get("ETag")
                self.links = resp.headers.getall("Link", [])
            elif resp.status in (409, 429, 503):
                retry = parse_retry_after(resp.headers.get("Retry-After"))
                self.log.warning("%s: relay busy (%d %s), retry after %s s", self.name,
                                 resp.status, _reason(body),
                                 "?" if retry is None else f"{retry:.0f}")
                return _Result(Outcome.BUSY, retry_after=retry)
            elif 400 <= resp.status < 500:
                hint = {401: "the token is missing, invalid or expired: issue a new one",
                        403: "the token may not publish to this site",
                        404: "the relay does not know this site"}.get(resp.status, "")
                self.log.error("%s: relay refused to publish: %d %s%s (retrying every %.0f s)",
                          self.name, resp.status, _reason(body),
                          f"; {hint}" if hint else "", self.slow_retry)
                return _Result(Outcome.REFUSED)
            else:
                self.log.warning("%s: relay answered %d %s", self.name, resp.status,
                            _reason(body))
                return _Result(Outcome.ERROR)
        if self.location is None:
            self.log.warning("%s: 201 without Location; the session cannot be ended cleanly",
                        self.name)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
        return None

    async def _watch(
        self, pc: RTCPeerConnection, sender: Any, changed: asyncio.Event, stop: asyncio.Event
    ) -> _Result:
        """Wait while the session is healthy; returns when it is not (or on stop)."""
        began = time.monotonic()
        connected_at: float | None = None
        last_report: Any = None
        last_report_at = 0.0
        while True:
            if stop.is_set():
                return _Result(Outcome.STOPPED, connected_for=self._since(connected_at))
            now = time.monotonic()
            state = pc.connectionState
            if state in ("failed", "closed"):
                self.last_error = f"connection {state}"
                self.log.warning("%s: connection %s", self.name, state)
                return self._ended(connected_at)
            if not self.still_allowed():
                self.log.warning("%s: no longer allowed to publish; ending the session", self.name)
                return self._ended(connected_at)
            if state == "connected":
                if connected_at is None:
                    connected_at = last_report_at = now
                    self.sessions += 1
                    self.state = "connected"
                    self.log.info("%s: publishing to %s (%.2f s to connect)", self.name,
                             self.endpoint, now - began)
                report = await self._last_report(sender)
                if report != last_report:
                    last_report, last_report_at = report, now
                elif now - last_report_at > self.rtcp_timeout:
                    self.last_error = "no RTCP from the far side"
                    self.log.warning("%s: no RTCP from the relay for %.0f s; reconnecting",
                                self.name, now - last_report_at)
                    return self._ended(connected_at)
            elif now - began > self.connect_timeout:
                self.log.warning("%s: not connected after %.0f s (state %s)", self.name,
                            self.connect_timeout, state)
                return _Result(Outcome.ERROR)
            changed.clear()
            await _wait(changed, 0.5)

    async def _last_report(self, sender: Any) -> Any:
        """A value that changes whenever a receiver report arrives for ``sender``."""
        stats = await sender.getStats()
        return tuple(sorted(
            (s.id, s.timestamp) for s in stats.values() if s.type == "remote-inbound-rtp"
        ))

    @staticmethod
    def _since(connected_at: float | None) -> float:
        return 0.0 if connected_at is None else time.monotonic() - connected_at

    def _ended(self, connected_at: float | None) -> _Result:
        outcome = Outcome.ENDED if connected_at is not None else Outcome.ERROR
        return _Result(outcome, connected_for=self._since(connected_at))

    async def _teardown(self, http: aiohttp.ClientSession, pc: RTCPeerConnection) -> None:
        """DELETE the session (best effort) and close the peer connection; never raises."""
        location, self.location = self.location, None
        if location is not None:
            try:
                async with http.delete(location, headers=self._headers(),
                                       timeout=aiohttp.ClientTimeout(total=3.0)) as resp:
                    self.log.debug("%s: DELETE session: %d", self.name, resp.status)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self.log.debug("%s: DELETE session failed: %r", self.name, exc)
        try:
            await asyncio.wait_for(pc.close(), 5.0)
        except Exception as exc:  # closing must never stop the retry loop
            self.log.debug("%s: closing the peer connection: %r", self.name, exc)
