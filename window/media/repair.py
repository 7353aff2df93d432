"""Loss on a long link: how our receiving peers stop waiting for a packet that never comes.

aiortc 1.16's video receiver (``RTCRtpReceiver``) assembles frames in a ``JitterBuffer`` of
512 packets that releases a frame only once every packet of it is there. It NACKs a gap when
it first sees it (and again only when a newer gap appears); if the retransmission is lost
too, or the gap is older than the 128 packets aiortc keeps NACKing (a link outage), the
buffer waits until 512 newer packets have piled up behind the hole: seconds of frozen
picture (at 1.5 Mbit/s ≈ 3 s; at a slate's few packets a second, minutes). Only then does it
drop the hole and send a PLI.

``RepairingJitterBuffer`` is the same buffer with a deadline: a frame still incomplete
``wait_ms`` after a newer frame began to arrive (one NACK round trip on the link plus its
jitter) is given up, as is at once a hole that no NACK can fill any more (older than
aiortc's NACK window). It drops the damaged frame, resumes at the next frame that starts
cleanly and asks the sender for a keyframe (PLI), so the picture moves on within ``wait_ms``
and heals within one round trip. ``repair_losses`` puts one into a receiver.

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


class RepairingJitterBuffer(JitterBuffer):
    def __init__(self, wait_ms: float, capacity: int = CAPACITY) -> None:
        super().__init__(capacity=capacity, is_video=True)
        self.wait_s = wait_ms / 1000
        self._blocked_since: float | None = None
        self._blocked_origin: int | None = None
        self.frames_skipped = 0
        self.skips = 0

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli, frame = super().add(packet)
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


def repair_losses(receiver: Any, wait_ms: float) -> RepairingJitterBuffer | None:
    """Give a video ``RTCRtpReceiver`` a ``RepairingJitterBuffer`` (call before media flows);
    returns it, or None for audio receivers and when ``wait_ms`` is 0 (aiortc's own)."""
    attr = "_RTCRtpReceiver__jitter_buffer"
    old = getattr(receiver, attr, None)
    if wait_ms <= 0 or not isinstance(old, JitterBuffer) or not old._is_video:
        return None
    buffer = RepairingJitterBuffer(wait_ms, old.capacity)
    setattr(receiver, attr, buffer)
    return buffer
