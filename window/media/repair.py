"""Loss on a long link: how our receiving peers stop waiting for a packet that never comes.

aiortc 1.16's video receiver (``RTCRtpReceiver``) assembles frames in a ``JitterBuffer`` of
512 packets that releases a frame only once every packet of it is there. It NACKs a gap when
it first sees it (and again only when a newer gap appears); if the retransmission is lost
too, or the gap is older than the 128 packets aiortc keeps NACKing (a link outage), the
buffer waits until 512 newer packets have piled up behind the hole: seconds of frozen
picture (at 1.5 Mbit/s ≈ 3 s; at a slate's few packets a second, minutes). Only then does it
drop the hole and send a PLI.

``RepairingJitterBuffer`` is the same buffer with a deadline: a frame still incomplete
``wait_ms`` after a newer frame began to arrive (a few NACK tries on the link, each a round
trip plus its jitter) is given up, as is at once a hole that no NACK can fill any more (older than
aiortc's NACK window). It drops the damaged frame, asks the sender for a keyframe (PLI,
again every ``wait_ms`` until one comes) and holds back the frames until it (they reference
the lost one: decoded they would be artifacts, forwarded the far viewers' too, and the audit
would search garbage), so the picture freezes for one round trip instead of for seconds.
``repair_losses`` puts one into a receiver.

Used for every peer that sends video *to* the relay (cameras, a partner relay's push): see
``Relay.publish``. Measured in ``benchmarks/far_city.py``; what aiortc does and does not do
about loss is in docs/architecture.md, "Loss and long links".
"""

from __future__ import annotations

import time
from typing import Any

from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket
from aiortc.utils import uint16_add

# aiortc's own choice for video receivers (rtcrtpreceiver.py).
CAPACITY = 512


def is_keyframe(data: bytes) -> bool:
    """A depayloaded VP8 keyframe (RFC 6386 9.1) or H.264 access unit with an IDR slice or
    SPS (Annex B, as aiortc depayloads it)."""
    if len(data) >= 6 and data[3:6] == b"\x9d\x01\x2a" and not data[0] & 1:
        return True
    i = data.find(b"\x00\x00\x01")
    while 0 <= i < len(data) - 3:
        if data[i + 3] & 0x1F in (5, 7):
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


class RepairingJitterBuffer(JitterBuffer):
    def __init__(self, wait_ms: float, capacity: int = CAPACITY) -> None:
        super().__init__(capacity=capacity, is_video=True)
        self.wait_s = wait_ms / 1000
        self._blocked_since: float | None = None
        self._blocked_origin: int | None = None
        # after a skip: frames up to the next keyframe reference one that never arrived
        self._keyframe_asked: float | None = None
        self.frames_skipped = 0
        self.skips = 0
        self.last_pli_at = float("-inf")  # when this buffer last asked for a keyframe

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli, frame = self._add_held(packet)
        if pli:
            self.last_pli_at = time.monotonic()
        return pli, frame

    def _add_held(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli, frame = self._add(packet)
        if pli:
            self._keyframe_asked = time.monotonic()
        if self._keyframe_asked is None or frame is None:
            return pli, frame
        if is_keyframe(frame.data):
            self._keyframe_asked = None
            return pli, frame
        self.frames_skipped += 1  # a broken chain: held back (a freeze, not artifacts)
        if time.monotonic() - self._keyframe_asked >= self.wait_s:
            self._keyframe_asked = time.monotonic()
            return True, None  # the PLI or its keyframe was lost: ask again
        return pli, None

    def _add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli, frame = super().add(packet)
        if self._packets[packet.sequence_number % self._capacity] is not packet:
            return pli, frame  # too late (its frame is gone) or too old: aiortc dropped it
        if frame is not None or self._origin is None:
            self._blocked_since = None
            return pli, frame
        hole, complete = self._head()
        if complete:
            # The oldest frame is whole (its last packet carries the marker) but the packet
            # after it is missing, which is what aiortc waits for: release it now.
            return pli, self._release(hole)
        if hole is None:
            return pli, frame
        if hole and packet.timestamp == self._timestamp_at(hole - 1):
            return pli, frame  # nothing newer than the incomplete frame has arrived yet
        now = time.monotonic()
        if self._blocked_since is None or self._blocked_origin != self._origin:
            self._blocked_since, self._blocked_origin = now, self._origin
        # aiortc NACKs only the newest RTP_HISTORY_SIZE packets: an older hole stays a hole.
        beyond_nack = uint16_add(packet.sequence_number, -self._origin) - hole > RTP_HISTORY_SIZE
        if (beyond_nack or now - self._blocked_since >= self.wait_s) and self._skip():
            self._blocked_since = None
            return True, self._remove_frame(packet.sequence_number)
        return pli, frame

    def _timestamp_at(self, count: int) -> int | None:
        packet = self._packets[(self._origin + count) % self._capacity]  # type: ignore[operator]
        return None if packet is None else packet.timestamp

    def _head(self) -> tuple[int | None, bool]:
        """Where the first hole after the origin is (packets from the origin; None: no hole
        within the buffer), and whether the packets before it are one whole frame."""
        assert self._origin is not None
        cap = self._capacity
        timestamp = None
        whole = False
        for count in range(cap):
            packet = self._packets[(self._origin + count) % cap]
            if packet is None:
                return (count, whole) if count else (0, False)
            if timestamp is not None and packet.timestamp != timestamp:
                return None, False  # aiortc itself releases such a frame
            timestamp = packet.timestamp
            whole = bool(packet.marker)
        return None, False

    def _release(self, count: int | None) -> JitterFrame:
        assert self._origin is not None and count
        cap = self._capacity
        packets = [self._packets[(self._origin + i) % cap] for i in range(count)]
        frame = JitterFrame(data=b"".join(p._data for p in packets),  # type: ignore[union-attr]
                            timestamp=packets[0].timestamp)  # type: ignore[union-attr]
        self.remove(count)
        self._blocked_since = None
        return frame

    def _skip(self) -> bool:
        """Drop packets up to the first frame after the oldest hole that starts cleanly (its
        predecessor is here and ended a frame); False (and nothing dropped) if there is none
        yet."""
        assert self._origin is not None
        cap = self._capacity
        seen_hole = False
        previous: RtpPacket | None = None
        for count in range(cap):
            packet = self._packets[(self._origin + count) % cap]
            if packet is None:
                seen_hole = True
            elif seen_hole and previous is not None and (
                    previous.marker or previous.timestamp != packet.timestamp):
                self._drop(count)
                self.skips += 1
                return True
            previous = packet
        return False

    def _drop(self, count: int) -> None:
        timestamps = set()
        for _ in range(count):
            pos = self._origin % self._capacity  # type: ignore[operator]
            packet = self._packets[pos]
            if packet is not None:
                timestamps.add(packet.timestamp)
            self._packets[pos] = None
            self._origin = uint16_add(self._origin, 1)  # type: ignore[arg-type]
        self.frames_skipped += max(1, len(timestamps))


class PatientNacks:
    """In place of aiortc's ``NackGenerator``, which NACKs a gap the moment it sees it and
    then every missing packet again whenever a newer gap appears: with jitter that reorders
    (± 30 ms at 180 packets/s reorders most packets) that resends a large share of the
    stream, while a packet whose one retransmission was lost on a quiet link is asked for
    again only at the next loss.

    Here a missing packet is NACKed once it has been missing longer than packets on this
    link arrive out of order (learnt: 1.25 × the latest reordered arrival, from
    ``reorder_ms`` up to ``max_reorder_ms``, slowly forgetting), NACKed a second time as long
    again later if still missing (a lost NACK or resend no longer costs a round trip), then
    every ``again_ms``, at most ``tries`` times, and never once older than the sender's
    history. The receiver calls ``add`` for every packet; when it returns True, it sends
    ``missing`` in one NACK."""

    def __init__(self, reorder_ms: float = 20, max_reorder_ms: float = 100,
                 again_ms: float = 300, tries: int = 5) -> None:
        self.base_s, self.max_s = reorder_ms / 1000, max_reorder_ms / 1000
        self.reorder_s = self.base_s
        self.again_s, self.tries = again_ms / 1000, tries
        self.max_seq: int | None = None
        self._lost: dict[int, list[float]] = {}  # seq -> [missing since, next NACK, NACKs]
        self._due: list[int] = []
        self.nacked = 0

    @property
    def missing(self) -> list[int]:
        """The sequence numbers to NACK now (what the receiver reads after ``add``)."""
        return self._due

    def add(self, packet: RtpPacket) -> bool:
        seq, now = packet.sequence_number, time.monotonic()
        if self.max_seq is None:
            self.max_seq = seq
            return False
        self.reorder_s -= (self.reorder_s - self.base_s) * 0.0005
        ahead = uint16_add(seq, -self.max_seq)
        if 0 < ahead < 0x8000:
            for i in range(min(ahead - 1, RTP_HISTORY_SIZE)):
                self._lost[uint16_add(seq, -1 - i)] = [now, now + self.reorder_s, 0]
            self.max_seq = seq
        else:
            entry = self._lost.pop(seq, None)
            if entry is not None and entry[2] == 0:  # overtaken, not lost: learn how late
                self.reorder_s = min(self.max_s, max(self.reorder_s, 1.25 * (now - entry[0])))
        due = []
        for lost_seq, entry in list(self._lost.items()):
            if entry[2] >= self.tries or uint16_add(self.max_seq, -lost_seq) > RTP_HISTORY_SIZE:
                del self._lost[lost_seq]
            elif now >= entry[1]:
                due.append(lost_seq)
                entry[2] += 1
                entry[1] = now + (self.reorder_s if entry[2] == 1 else self.again_s)
        self._due = due
        self.nacked += len(due)
        return bool(due)


def repair_losses(receiver: Any, wait_ms: float) -> RepairingJitterBuffer | None:
    """Give a video ``RTCRtpReceiver`` a ``RepairingJitterBuffer`` and ``PatientNacks``
    (call before media flows); returns the buffer, or None for audio receivers and when
    ``wait_ms`` is 0 (aiortc's own)."""
    attr = "_RTCRtpReceiver__jitter_buffer"
    old = getattr(receiver, attr, None)
    if wait_ms <= 0 or not isinstance(old, JitterBuffer) or not old._is_video:
        return None
    buffer = RepairingJitterBuffer(wait_ms, old.capacity)
    setattr(receiver, attr, buffer)
    receiver._RTCRtpReceiver__nack_generator = PatientNacks()
    return buffer
