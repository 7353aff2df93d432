"""A feed that arrives from a partner relay: its VP8 frames are forwarded, not re-encoded.

The partner's relay publishes with a token of role ``relay`` (``Relay.publish``). Its picture
has passed the partner's privacy step already, so this relay hands the arriving encoded
frames to its own viewers as they are (``Feed.forward``) instead of decoding and encoding
them again. What is taken from aiortc, and how:

* aiortc's ``RTCRtpReceiver`` depacketizes RTP (NACKs lost packets, unwraps RTX) and
  reassembles whole frames in its jitter buffer, then puts ``(codec, JitterFrame)`` on a
  ``queue.Queue`` that its decoder thread reads. ``FrameTap`` takes that queue's place
  before the receiver starts: every assembled frame is handed to ``RelayIngest.on_frame`` on
  the event loop, and the decoder thread only waits for the end-of-stream marker. No decode
  happens in aiortc at all.
* Keyframe requests of this relay's viewers (PLI/FIR, joins, state changes) become one PLI
  to the partner (``RelayIngest.request_keyframe``, throttled like the shared encoder).

Trust, but verify: ``RelayIngest`` decodes the arriving frames on a thread of its own and hands
a few a second to the ``Audit`` (``window.media.audit``). When the audit finds a face that
should have been blurred, the ingest switches to **local** mode: every decoded frame goes
into the feed as a camera frame (decode → ``PrivacyStage`` → shared encoder, as for a camera
of this relay) and nothing arriving is forwarded any more, until an operator clears it.
Decoded frames also feed the local pipeline while H.264-only viewers watch (a transcode on
demand: those viewers get the arriving picture through this relay's own privacy step).

Relies on aiortc 1.16 internals (``RTCRtpReceiver.__decoder_queue``, ``__active_ssrc``,
``_send_rtcp_pli``); ``tests/test_two_relays.py`` fails if they change.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

import av

from ..logs import Throttle
from .rate import RateMeter

if TYPE_CHECKING:
    from aiortc import RTCRtpReceiver

    from .audit import Audit
    from .feed import Feed

log = logging.getLogger("window.forward")

# Decoded frames waiting for the ingest's decoder before it skips to the next keyframe.
MAX_DECODE_BACKLOG = 30


def vp8_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) if ``data`` is a VP8 keyframe (RFC 6386 9.1), else None."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


class FrameTap:
    """Stands in for an ``RTCRtpReceiver``'s decoder queue (see the module doc)."""

    def __init__(self, on_frame: Any) -> None:
        self._on_frame = on_frame
        self._end: queue.Queue[None] = queue.Queue()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver stops: let its (idle) decoder thread end
            self._end.put(None)
            return
        codec, frame = item
        self._on_frame(codec, frame)

    def get(self, block: bool = True, timeout: float | None = None) -> None:
        return self._end.get(block, timeout)


class IngestMode(enum.StrEnum):
    FORWARD = "forward"  # the arriving packets go to the viewers as they are
    LOCAL = "local"  # the audit caught a face: decode → privacy → encode here


def tap_receiver(receiver: RTCRtpReceiver, on_frame: Any) -> None:
    """Route ``receiver``'s assembled frames to ``on_frame``; call before it starts."""
    attr = "_RTCRtpReceiver__decoder_queue"
    if not hasattr(receiver, attr):
        raise RuntimeError("this aiortc has no RTCRtpReceiver decoder queue to tap")
    setattr(receiver, attr, FrameTap(on_frame))


class RelayIngest:
    """The arriving side of one partner relay's WHIP session for ``feed``."""

    def __init__(self, feed: Feed, receiver: RTCRtpReceiver, audit: Audit | None,
                 session_id: str, subject: str) -> None:
        self.feed = feed
        self.receiver = receiver
        self.audit = audit
        self.session_id = session_id
        self.subject = subject
        self.mode = IngestMode.FORWARD
        self._loop = asyncio.get_running_loop()
        self._decoder: Any = av.CodecContext.create("vp8", "r")
        self._decoder.thread_count = 1  # decoded on our thread only: ffmpeg's slice threads
        self._decoder.thread_type = "NONE"  # add only overhead for one VP8 partition
        # frames to decode, with whether the feed's own pipeline needs them (None: stop)
        self._work: queue.SimpleQueue[tuple[bytes, bool] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._decode_loop, daemon=True,
                                        name=f"ingest-{feed.name}")
        self._skip_to_key = False
        self._last_pli = float("-inf")
        self._pli_wanted = False  # a keyframe request waits for the throttle
        self._throttle = Throttle()
        self.closed = False
        self.since = time.time()
        # what the pushing relay says its feed is (window.media.source_state); None: unknown
        self.partner_state: str | None = None
        # figures
        self.frames = RateMeter()
        self.bytes = 0
        self.keyframes = 0
        self.plis = 0
        self.decode_errors = 0
        self.size: tuple[int, int] | None = None
        self.first_frame_at: float | None = None
        tap_receiver(receiver, self.on_frame)
        self._thread.start()

    # arriving frames (event loop) -------------------------------------------------------------
    def on_frame(self, codec: Any, frame: Any) -> None:
        if self.closed:
            return
        data: bytes = frame.data
        if not data:
            return
        if self.first_frame_at is None:
            self.first_frame_at = time.time()
        size = vp8_keyframe_size(data)
        keyframe = size is not None
        if size is not None:
            self.keyframes += 1
            self._pli_wanted = False  # whoever asked gets this one
            if self.audit is not None and (size != self.size or not self._asked_recently()):
                self.audit.changed()  # the partner's picture changed: sample fast a while
            self.size = size
        elif self._pli_wanted:
            self._send_pli()
        self.frames.tick()
        self.bytes += len(data)
        if self.forwarding:
            self.feed.forward(data, frame.timestamp, keyframe)
        else:
            self.feed.note_arrival(self.size)
        self._decode_soon(data, keyframe)

    @property
    def forwarding(self) -> bool:
        """Forwarding now: not caught by the audit, and the audit is running (until its
        detector has loaded, the arriving feed is processed here: fail closed)."""
        return self.mode is IngestMode.FORWARD and (self.audit is None or self.audit.ready())

    def _local(self) -> bool:
        return not self.forwarding or self.feed.needs_transcode()

    def _decode_soon(self, data: bytes, keyframe: bool) -> None:
        local = self._local()
        auditing = self.audit is not None and self.forwarding
        if not (local or auditing):
            self._skip_to_key = True  # the decoder resumes at a keyframe when needed again
            return
        if self._skip_to_key:
            if not keyframe:
                self.request_keyframe()
                return
            self._skip_to_key = False
        if self._work.qsize() >= MAX_DECODE_BACKLOG:
            self._skip_to_key = True
            return
        self._work.put((data, local))

    def _decode_loop(self) -> None:
        """The ingest thread: decode every frame (VP8 deltas need them all) and hand the
        event loop only what it needs: frames for the feed's own pipeline, and a frame
        when the audit is due to sample one (no wake-up of the loop for the others)."""
        while (item := self._work.get()) is not None:
            data, local = item
            try:
                frames: list[av.VideoFrame] = list(self._decoder.decode(av.Packet(data)))
            except Exception as e:  # a damaged frame: reported on the loop, not raised
                self._call(self._decode_failed, e)
                continue
            audit = self.audit
            sample = audit is not None and audit.due(time.monotonic())
            if frames and (local or sample):
                self._call(self._deliver, frames, local, sample)

    def _call(self, fn: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to tell
            self._loop.call_soon_threadsafe(fn, *args)

    def _decode_failed(self, error: Exception) -> None:
        if self.closed:
            return
        self.decode_errors += 1
        self._skip_to_key = True
        self.request_keyframe()
        if (held := self._throttle("decode")) is not None:
            log.warning("arriving frame did not decode; waiting for a keyframe",
                        extra={"site": self.feed.name, "error": repr(error)[:200],
                               "since_last_line": held})

    def _deliver(self, frames: list[av.VideoFrame], local: bool, sample: bool) -> None:
        """Decoded frames on the event loop: to the feed's pipeline and/or the audit."""
        if self.closed:
            return
        for image in frames:
            if local and self._local():
                self.feed.take_frame(image)
            if sample and self.audit is not None and self.forwarding:
                self.audit.offer(self, image)

    # keyframes --------------------------------------------------------------------------------
    def request_keyframe(self) -> None:
        """Ask the partner for a keyframe (a PLI), at most every keyframe_min_interval_ms: a
        request within that time is kept and sent with a later arriving frame, unless a
        keyframe arrives first (it serves every viewer)."""
        self._pli_wanted = True
        self._send_pli()

    def _asked_recently(self, within_s: float = 2.0) -> bool:
        """Whether this relay asked for a keyframe lately (its viewers, or its receiver
        after a loss): such a keyframe is no sign that the partner's picture changed."""
        buffer = getattr(self.receiver, "_RTCRtpReceiver__jitter_buffer", None)
        last = max(self._last_pli, getattr(buffer, "last_pli_at", float("-inf")))
        return time.monotonic() - last < within_s

    def _send_pli(self) -> None:
        now = time.monotonic()
        if (not self._pli_wanted or self.closed
                or now - self._last_pli < self.feed.media.keyframe_min_interval_ms / 1000):
            return
        active: dict[int, Any] = getattr(self.receiver, "_RTCRtpReceiver__active_ssrc", {})
        if not active:
            return
        self._pli_wanted = False
        self._last_pli = now
        ssrc = max(active, key=lambda s: active[s])
        self.plis += 1
        task = self._loop.create_task(self.receiver._send_rtcp_pli(ssrc))
        self.feed.own(task)

    def set_partner_state(self, state: str) -> None:
        if state != self.partner_state:
            log.info("partner feed state", extra={"site": self.feed.name, "state": state})
            self.partner_state = state
            self.feed.wake()

    # modes ------------------------------------------------------------------------------------
    def go_local(self) -> None:
        """Stop forwarding: from now on the arriving frames go through this relay's own
        privacy step (the audit caught a face)."""
        if self.mode is IngestMode.LOCAL:
            return
        self.mode = IngestMode.LOCAL
        self.since = time.time()
        self.feed.drop_forwarded()  # what the viewers have not been sent yet: not at all
        self.feed.wake()

    def go_forward(self) -> None:
        """Forward again (an operator cleared the alert): from the next keyframe on."""
        if self.mode is IngestMode.FORWARD:
            return
        self.mode = IngestMode.FORWARD
        self.since = time.time()
        self.request_keyframe()

    def close(self) -> None:
        self.closed = True
        if self.audit is not None:
            self.audit.close()
        self._work.put(None)  # the ingest thread ends after the frame it is decoding

    def snapshot(self) -> dict[str, Any]:
        return {
            "session": self.session_id[:8],
            "subject": self.subject,
            "mode": str(self.mode) if self.forwarding or self.mode is IngestMode.LOCAL
            else "local (audit warming up)",
            "since": round(self.since, 1),
            "first_frame_at": self.first_frame_at,
            "fps_in": round(self.frames.rate(), 1),
            "frames": self.frames.total,
            "bytes": self.bytes,
            "keyframes": self.keyframes,
            "keyframe_requests_sent": self.plis,
            "decode_errors": self.decode_errors,
            "size": list(self.size) if self.size else None,
            "partner_state": self.partner_state,
            "repair": self._repair_figures(),
        }

    def _repair_figures(self) -> dict[str, int] | None:
        """What the receiver's ``RepairingJitterBuffer`` gave up on (window.media.repair)."""
        from .repair import PatientNacks, RepairingJitterBuffer

        buffer = getattr(self.receiver, "_RTCRtpReceiver__jitter_buffer", None)
        nacks = getattr(self.receiver, "_RTCRtpReceiver__nack_generator", None)
        if not isinstance(buffer, RepairingJitterBuffer):
            return None
        return {"skips": buffer.skips, "frames_skipped": buffer.frames_skipped,
                "nacked": nacks.nacked if isinstance(nacks, PatientNacks) else 0}


def open_ingest(feed: Feed, pc: Any, track: Any, audit: Audit | None, session_id: str,
                subject: str) -> RelayIngest:
    """For a partner relay's offer, between ``setRemoteDescription`` and the answer: only VP8
    is taken (its frames are forwarded as they are), and the receiver of ``track`` is tapped.
    ``BadRequest`` if the offer has no VP8."""
    from ..errors import BadRequest

    for t in pc.getTransceivers():
        if t.receiver.track is track:
            vp8 = [c for c in t._codecs if c.mimeType.lower() == "video/vp8"]
            if not vp8:
                raise BadRequest("a relay must send VP8")
            pts = {c.payloadType for c in vp8}
            t._codecs = vp8 + [c for c in t._codecs if c.mimeType.lower() == "video/rtx"
                               and c.parameters.get("apt") in pts]
            ingest = RelayIngest(feed, t.receiver, audit, session_id, subject)
            if feed.audit_alert is not None:
                ingest.mode = IngestMode.LOCAL  # an alert stays until an operator clears it
            return ingest
    raise BadRequest("the offer sends no video")
