"""The relay: every site's feed and every peer connection, owned in one place.

``start`` brings the feeds up, ``close`` tears everything down; in between, WHIP and WHEP
handlers call ``publish``, ``watch``, ``trickle`` and ``end``. Who may open a session is
decided in ``signalling.admission``, which remote candidates are checked in
``signalling.candidates``. A reaper closes sessions whose peers vanished or never connected,
and sessions whose token has expired (plus ``auth.leeway_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from . import i18n
from .auth.roles import Role
from .auth.tokens import Grant
from .config import Config, PrivacyMode
from .errors import BadRequest, NotFound, UnprocessableEntity
from .events import EventBus
from .media.audit import Audit
from .media.dtls import allow_rsa_peers
from .media.feed import Feed, FeedState
from .media.forward import RelayIngest, open_ingest
from .media.peer_close import close_pc
from .media.push import Pushes
from .media.repair import repair_losses
from .privacy.stage import PrivacyStage
from .signalling.admission import Admission
from .signalling.candidates import CandidateFilter
from .signalling.ice_servers import relay_ice_servers
from .signalling.sdpfrag import SdpFrag
from .signalling.session import Session, SessionKind
from .sites import SiteClock
from .store import Store
from .tuning import TRIM_INTERVAL_S, release_free_memory

log = logging.getLogger("window.relay")


def _ufrag(sdp: str) -> str | None:
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1].strip()
    return None


def choose_codec(offer: str) -> str:
    """VP8 when the viewer takes it (every browser does), else H.264 (packetization-mode 1)."""
    sdp = offer.lower()
    if "vp8/90000" in sdp:
        return "vp8"
    if "h264/90000" in sdp and "packetization-mode=1" in sdp:
        return "h264"
    raise BadRequest("the offer must accept VP8 or H.264 (packetization-mode 1) video")


class Relay:
    def __init__(self, cfg: Config, store: Store, *, allow_privacy_off: bool = False,
                 events: EventBus | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.allow_privacy_off = allow_privacy_off
        self.events = events or EventBus()
        self.feeds: dict[str, Feed] = {}
        self.sessions: dict[str, Session] = {}
        self.clocks = {name: SiteClock(name, site) for name, site in cfg.sites.items()}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self.admission = Admission(cfg)
        self.candidates = CandidateFilter(cfg.candidates)
        self.audit_alerts = 0
        self.pushes = Pushes(cfg, self.feeds)
        self.started_at = time.time()
        allow_rsa_peers()

    # life cycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        for name, site in self.cfg.sites.items():
            stage = PrivacyStage(name, self.cfg.privacy, site, allow_off=self.allow_privacy_off)
            saved = await asyncio.to_thread(self.store.settings, f"site:{name}")
            feed = Feed(name, self.cfg.media, self.clocks[name], stage, self._on_feed_state,
                        languages=i18n.slate_languages(self.cfg, name),
                        titles=i18n.titles(name, self.cfg.sites[name]))
            if "mode" in saved:
                try:
                    stage.set_mode(PrivacyMode(saved["mode"]))
                except Exception:
                    log.warning("saved privacy mode not allowed; using the configured one",
                                extra={"site": name, "saved": saved["mode"]})
            feed.paused = bool(saved.get("paused", False))
            if isinstance(saved.get("audit_alert"), dict):
                feed.audit_alert = saved["audit_alert"]
            feed.start()
            self.feeds[name] = feed
        self._reaper = asyncio.create_task(self._reap(), name="relay-reaper")
        self.pushes.start()

    async def close(self, *, drain_s: float = 0.0) -> None:
        """Show the closing slate for ``drain_s`` seconds, then close every session and feed."""
        if drain_s > 0:
            for feed in self.feeds.values():
                feed.stopping = True
                feed.wake()
            await asyncio.sleep(drain_s)
        await self.pushes.close()  # each DELETEs its session at the partner
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        await asyncio.gather(*(self._close_session(s, "shutdown") for s in
                               list(self.sessions.values())), return_exceptions=True)
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(f.close() for f in self.feeds.values()), return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # lookup -----------------------------------------------------------------------------------
    def feed(self, site: str) -> Feed:
        feed = self.feeds.get(site)
        if feed is None:
            raise NotFound(f"unknown site {site!r}")
        return feed

    def session(self, site: str, session_id: str, kind: SessionKind) -> Session:
        s = self.sessions.get(session_id)
        if s is None or s.site != site or s.kind is not kind or s.closed:
            raise NotFound("no such session")
        return s

    def viewers_of(self, site: str) -> list[Session]:
        return [s for s in self.sessions.values()
                if s.site == site and s.kind is SessionKind.VIEWER and not s.closed]

    def publisher_of(self, site: str) -> Session | None:
        feed = self.feeds.get(site)
        if feed is None or feed.publisher_id is None:
            return None
        return self.sessions.get(feed.publisher_id)

    # peers ------------------------------------------------------------------------------------
    def _new_pc(self) -> RTCPeerConnection:
        return RTCPeerConnection(RTCConfiguration(iceServers=relay_ice_servers(self.cfg)))

    def is_full(self, site: str, grant: Grant) -> bool:
        """No room for one more viewer of ``site`` under ``grant`` (what ``watch`` would
        refuse with 503, reserved slots included)."""
        self.feed(site)  # 404 for an unknown site
        return self.admission.no_room(site, grant, self.sessions.values()) is not None

    def _watch_state(self, session: Session) -> None:
        pc = session.pc

        @pc.on("connectionstatechange")
        async def on_change() -> None:
            state = pc.connectionState
            log.info("peer state", extra={"session": session.id[:8], "kind": str(session.kind),
                                          "site": session.site, "state": state})
            if state == "connected" and session.connected_at is None:
                session.connected_at = time.monotonic()
                if session.kind is SessionKind.VIEWER:
                    self.feed(session.site).request_keyframe()
            if state in ("failed", "closed"):
                self._spawn(self._close_session(session, state), f"close-{session.id[:8]}")

    async def _answer(self, session: Session, offer: str,
                      before_answer: Callable[[], None] | None = None) -> str:
        """Apply ``offer`` (only the candidates the relay may check) and answer it; a
        malformed offer is a ``BadRequest``."""
        pc = session.pc
        filtered = self.candidates.filter_offer(offer)
        session.remote_candidates = filtered.kept
        if filtered.dropped:
            log.info("candidates dropped", extra={"session": session.id[:8],
                                                  "kept": filtered.kept,
                                                  "dropped": filtered.dropped})
        try:
            await pc.setRemoteDescription(RTCSessionDescription(filtered.sdp, "offer"))
            if before_answer is not None:
                before_answer()
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except (ValueError, KeyError, IndexError, AssertionError, TypeError) as e:
            raise BadRequest(f"malformed SDP: {e}".splitlines()[0][:200]) from None
        return str(pc.localDescription.sdp)

    async def publish(self, site: str, offer: str, grant: Grant, remote: str
                      ) -> tuple[Session, str]:
        """A publisher's WHIP offer: answer it and make it the site's publisher (if it may
        replace the current one, see ``Admission.takeover``)."""
        feed = self.feed(site)
        current = self.publisher_of(site)
        self.admission.takeover(site, grant, remote, current, feed.last_frame_at)
        replacing = current if current is not None and current.grant.jti == grant.jti else None
        with self.admission.admit(SessionKind.PUBLISHER, site, grant, remote,
                                  self.sessions.values(), replacing):
            return await self._publish(feed, offer, grant, remote)

    async def _publish(self, feed: Feed, offer: str, grant: Grant, remote: str
                       ) -> tuple[Session, str]:
        site = feed.name
        pc = self._new_pc()
        session = Session(SessionKind.PUBLISHER, site, pc, grant, remote,
                          remote_ufrag=_ufrag(offer))
        video: list[MediaStreamTrack] = []
        ingest: list[RelayIngest] = []  # a partner relay's feed: forwarded, not re-encoded

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and not video:
                video.append(track)

        def only_video() -> None:
            for t in pc.getTransceivers():
                if t.kind != "video" or t.receiver.track is not (video[0] if video else None):
                    t.direction = "inactive"  # no sound and no second picture: only video
            if grant.role is Role.RELAY and video:
                ingest.append(open_ingest(feed, pc, video[0], self._new_audit(feed),
                                          session.id, grant.subject))

        try:
            answer = await self._answer(session, offer, only_video)
            if not video:
                raise BadRequest("the offer sends no video")
            old = self.publisher_of(site)  # again: another may have come meanwhile
            self.admission.takeover(site, grant, remote, old, feed.last_frame_at)
        except BaseException:
            for i in ingest:
                i.close()
            await close_pc(pc)
            raise
        for t in pc.getTransceivers():  # before any media: ICE and DTLS are not done yet
            repair_losses(t.receiver, self.cfg.media.repair_wait_ms)
        self.sessions[session.id] = session
        self._watch_state(session)
        if ingest:
            feed.attach_relay(session.id, ingest[0])
        else:
            feed.attach(session.id, video[0])
        if old is not None:
            log.info("camera replaced", extra={"site": site, "old": old.id[:8],
                                               "old_jti": old.grant.jti, "jti": grant.jti,
                                               "remote": remote})
            self._spawn(self._close_session(old, "replaced"), f"close-{old.id[:8]}")
        self.events.publish({"type": "camera", "site": site, "connected": True})
        return session, answer

    async def watch(self, site: str, offer: str, grant: Grant, remote: str
                    ) -> tuple[Session, str]:
        """A viewer's WHEP offer: answer with the site's feed."""
        feed = self.feed(site)
        codec = choose_codec(offer)
        with self.admission.admit(SessionKind.VIEWER, site, grant, remote,
                                  self.sessions.values()):
            return await self._watch(feed, codec, offer, grant, remote)

    async def _watch(self, feed: Feed, codec: str, offer: str, grant: Grant, remote: str
                     ) -> tuple[Session, str]:
        site = feed.name
        pc = self._new_pc()
        track = feed.subscribe(codec)
        session = Session(SessionKind.VIEWER, site, pc, grant, remote, track=track,
                          remote_ufrag=_ufrag(offer))
        try:
            transceiver = pc.addTransceiver(track, direction="sendonly")
            caps = RTCRtpSender.getCapabilities("video")
            transceiver.setCodecPreferences(
                [c for c in caps.codecs if c.mimeType.lower() in (f"video/{codec}", "video/rtx")])
            sdp = await self._answer(session, offer)
            if f"a=mid:{transceiver.mid}" not in sdp or transceiver.currentDirection not in (
                    "sendonly", "sendrecv"):
                raise BadRequest("the offer does not receive video")
        except BaseException:
            feed.unsubscribe(track)
            await close_pc(pc)
            raise
        # Keyframe requests (PLI/FIR) from this viewer go to the shared encoder.
        transceiver.sender._send_keyframe = track.request_keyframe  # type: ignore[method-assign]
        self.sessions[session.id] = session
        self._watch_state(session)
        self._viewers_changed(site)
        return session, sdp

    async def trickle(self, session: Session, frag: SdpFrag) -> None:
        """Add trickled candidates (RFC 8840); ICE restarts are not supported (422)."""
        if frag.ufrag is not None and session.remote_ufrag and frag.ufrag != session.remote_ufrag:
            raise UnprocessableEntity("ICE restart is not supported; start a new session")
        transceivers = session.pc.getTransceivers()
        cap = self.cfg.candidates.max_per_offer
        for i, (mid, line) in enumerate(frag.candidates):
            if (i >= cap or session.remote_candidates >= self.cfg.candidates.max_per_session
                    or self.candidates.why_not(line) is not None):
                self.candidates.dropped += 1
                continue  # never checked: over a cap, or an address the relay must not probe
            session.remote_candidates += 1
            try:
                candidate = candidate_from_sdp(line.split(":", 1)[1])
            except (ValueError, IndexError):
                continue  # RFC 9725: discard what we cannot use, keep the rest
            candidate.sdpMid = mid or (transceivers[0].mid if transceivers else "0")
            with contextlib.suppress(Exception):
                await session.pc.addIceCandidate(candidate)
        if frag.end_of_candidates:
            with contextlib.suppress(Exception):
                await session.pc.addIceCandidate(None)

    async def end(self, session: Session, reason: str = "deleted") -> None:
        await self._close_session(session, reason)

    def extend(self, jti: str, expires_at: float) -> int:
        """Token ``jti`` was renewed: its sessions now end at ``expires_at``."""
        n = 0
        for s in self.sessions.values():
            if s.grant.jti == jti and s.expires_at < expires_at:
                s.expires_at = expires_at
                n += 1
        return n

    async def kick_subject(self, jti: str) -> int:
        """Close every session opened with token ``jti`` (after it was revoked)."""
        victims = [s for s in self.sessions.values() if s.grant.jti == jti]
        for s in victims:
            await self._close_session(s, "revoked")
        return len(victims)

    async def _close_session(self, session: Session, reason: str) -> None:
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.id, None)
        feed = self.feeds.get(session.site)
        if feed is not None:
            if session.kind is SessionKind.PUBLISHER:
                was_current = feed.publisher_id == session.id
                feed.detach(session.id)
                if was_current:
                    self.events.publish({"type": "camera", "site": session.site,
                                         "connected": False})
            elif session.track is not None:
                feed.unsubscribe(session.track)
                self._viewers_changed(session.site)
        log.info("session closed", extra={"session": session.id[:8], "kind": str(session.kind),
                                          "site": session.site, "reason": reason})
        await close_pc(session.pc)

    async def _reap(self) -> None:
        timeout = self.cfg.server.connect_timeout_s
        last_trim = time.monotonic()
        while True:
            await asyncio.sleep(min(2.0, timeout / 2))
            await self._reap_once(timeout)
            if time.monotonic() - last_trim > TRIM_INTERVAL_S:
                last_trim = time.monotonic()
                await asyncio.to_thread(release_free_memory)

    async def _reap_once(self, connect_timeout_s: float) -> None:
        # A function of its own, so no session stays referenced from the sleeping loop.
        now = time.monotonic()
        expired = time.time() - self.cfg.auth.leeway_s
        for s in list(self.sessions.values()):
            state = s.pc.connectionState
            if state in ("failed", "closed"):
                await self._close_session(s, "reaped: " + state)
            elif s.connected_at is None and now - s.created > connect_timeout_s:
                await self._close_session(s, "reaped: never connected")
            elif s.expires_at < expired:
                await self._close_session(s, "reaped: token expired")

    # partner relays: trust, but verify ----------------------------------------------------------
    def _new_audit(self, feed: Feed) -> Audit:
        return Audit(feed.name, self.cfg.privacy, self.cfg.audit,
                     lambda detail: self._audit_tripped(feed, detail))

    def _audit_tripped(self, feed: Feed, detail: dict[str, Any]) -> None:
        """The audit found a face in a partner's feed: process it here until cleared."""
        ingest = feed.ingest
        alert = {**detail, "at": round(time.time(), 3),
                 "subject": ingest.subject if ingest is not None else None}
        feed.audit_alert = alert
        if ingest is not None:
            ingest.go_local()
        self.audit_alerts += 1
        log.error("AUDIT: the partner's feed showed a face that should have been blurred; "
                  "this relay now blurs it itself until an operator clears the alert",
                  extra={"site": feed.name, **alert})
        self.events.publish({"type": "audit", "site": feed.name, "alert": alert})
        self._spawn(asyncio.to_thread(self.store.set, f"site:{feed.name}", "audit_alert",
                                      alert), f"audit-save-{feed.name}")
        self._spawn(asyncio.to_thread(self.store.audit, "relay", "audit.tripped", feed.name,
                                      alert, ""), f"audit-log-{feed.name}")

    async def clear_audit(self, site: str) -> bool:
        """Forward the partner's feed again; False if there was no alert."""
        feed = self.feed(site)
        if feed.audit_alert is None:
            return False
        feed.audit_alert = None
        if feed.ingest is not None:
            if feed.ingest.audit is not None:
                feed.ingest.audit.close()
            feed.ingest.audit = self._new_audit(feed)
            feed.ingest.go_forward()
        await asyncio.to_thread(self.store.set, f"site:{site}", "audit_alert", None)
        self.events.publish({"type": "audit", "site": site, "alert": None})
        return True

    # events -----------------------------------------------------------------------------------
    def _on_feed_state(self, feed: Feed, state: FeedState) -> None:
        self.events.publish({"type": "feed", "site": feed.name, "state": str(state),
                             "mode": str(feed.privacy.mode)})

    def _viewers_changed(self, site: str) -> None:
        self.events.publish({"type": "viewers", "site": site,
                             "count": len(self.viewers_of(site))})

    # figures ----------------------------------------------------------------------------------
    @property
    def uptime_s(self) -> float:
        return round(time.time() - self.started_at, 1)

    def snapshot(self) -> dict[str, Any]:
        return {
            "uptime_s": self.uptime_s,
            "sessions": len(self.sessions),
            "sites": {name: feed.snapshot() for name, feed in self.feeds.items()},
        }
