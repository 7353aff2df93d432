"""What one viewer's sender reads: the feed's encoded packets, through a bounded queue.

A viewer that falls behind by more than ``maxlen`` packets drops its backlog and resumes at the
next keyframe (which it asks the feed for), so it never holds memory or slows anyone else.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .encoder import Packet


class FeedTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, maxlen: int, request_keyframe: Callable[[], None]) -> None:
        super().__init__()
        self._queue: deque[Packet] = deque()
        self._maxlen = maxlen
        self._ready = asyncio.Event()
        self._request_keyframe = request_keyframe
        self._waiting_for_keyframe = True
        self.codec = "vp8"
        self.packets_sent = 0
        self.bytes_sent = 0
        self.overflows = 0
        # None, or asked before every packet: False drops it (a push while privacy is off).
        self.gate: Callable[[], bool] | None = None

    def request_keyframe(self) -> None:
        """This viewer lost a picture (PLI/FIR): its encoding makes a keyframe soon."""
        self._request_keyframe()

    def put(self, packet: Packet, keyframe: bool) -> None:
        """Called by the feed for every encoded packet (on the event loop)."""
        if self.readyState != "live":
            return
        if self.gate is not None and not self.gate():
            self._queue.clear()
            self._waiting_for_keyframe = True
            return
        if self._waiting_for_keyframe:
            if not keyframe:
                return
            self._waiting_for_keyframe = False
        elif len(self._queue) >= self._maxlen:
            self._queue.clear()
            self.overflows += 1
            if not keyframe:
                self._waiting_for_keyframe = True
                self._request_keyframe()
                return
        self._queue.append(packet)
        self._ready.set()

    def drop_queued(self) -> None:
        """Forget the packets not sent yet; resume at the next keyframe (the audit caught
        faces in forwarded frames: those still queued must not go out)."""
        self._queue.clear()
        self._waiting_for_keyframe = True

    async def recv(self) -> Packet:  # type: ignore[override,unused-ignore]
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        packet = self._queue.popleft()
        self.packets_sent += 1
        self.bytes_sent += packet.size
        return packet

    def stop(self) -> None:
        super().stop()
        self._queue.clear()
        self._ready.set()
