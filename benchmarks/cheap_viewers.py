"""Cheap WHEP viewers in a process of their own, for benchmarks that need many of them.

A viewer here is a real aiortc peer (ICE, DTLS, SRTP) that stops at the RTP packet: its
receiver counts packets and frames (RTP marker bits: the last packet of each frame) instead
of running the jitter buffer, NACK/PLI and a decoder. So fifty of them cost a fraction of a
core and, sending no feedback, change nothing on the sending side whatever this process's
share of a shared machine is: what they measure is the sender's cost, not their own.

Driven by JSON lines on stdin, one answer line each on stdout::

    {"cmd": "add", "url": ..., "token": ..., "n": 25}   -> {"n": 25, "post_s": [...]}
    {"cmd": "counts"}                                   -> {"frames": [...], "packets": [...],
                                                            "cpu_s": 1.23}
    {"cmd": "keep", "n": 1}                             -> {"n": 1}   (hangs the rest up)
    {"cmd": "quit"}                                     -> {}

``add`` follows a ``307`` as a browser does (the same offer, no Authorization on the other
origin) and ``DELETE``s each session on ``keep``/``quit`` with the token it was opened with.

    python benchmarks/cheap_viewers.py    # started by benchmarks/tier.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import RtpPacket
from proc import proc_cpu_s  # type: ignore[import-not-found]


@dataclass
class Cheap:
    pc: RTCPeerConnection
    resource: str = ""
    token: str = ""
    packets: int = 0
    frames: int = 0
    first: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


async def _gathered(pc: RTCPeerConnection) -> None:
    while pc.iceGatheringState != "complete":
        await asyncio.sleep(0.01)


async def open_viewer(http: aiohttp.ClientSession, url: str, token: str) -> tuple[Cheap, float]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    v = Cheap(pc)
    tr = pc.addTransceiver("video", direction="recvonly")

    async def count(packet: RtpPacket, arrival_time_ms: int) -> None:
        v.packets += 1
        if packet.marker:
            v.frames += 1
            if not v.first:
                v.first = time.time()

    tr.receiver._handle_rtp_packet = count  # type: ignore[method-assign]
    await pc.setLocalDescription(await pc.createOffer())
    await _gathered(pc)
    headers = {"Content-Type": "application/sdp"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    for _ in range(3):
        async with http.post(url, data=pc.localDescription.sdp, headers=headers,
                             allow_redirects=False) as resp:
            body = await resp.text()
            if resp.status == 307:
                url = resp.headers["Location"]
                headers = {"Content-Type": "application/sdp"}
                token = ""
                continue
            if resp.status != 201:
                await pc.close()
                raise RuntimeError(f"{url}: {resp.status} {body.strip()[:200]}")
            took = time.perf_counter() - started
            v.resource = urljoin(url, resp.headers.get("Location", ""))
            v.token = token
            await pc.setRemoteDescription(RTCSessionDescription(body, "answer"))
            return v, took
    await pc.close()
    raise RuntimeError("too many redirects")


async def hang_up(http: aiohttp.ClientSession, v: Cheap) -> None:
    if v.resource:
        headers = {"Authorization": f"Bearer {v.token}"} if v.token else {}
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            async with http.delete(v.resource, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=5)):
                pass
    await v.pc.close()


async def main() -> None:
    viewers: list[Cheap] = []
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    async with aiohttp.ClientSession() as http:
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = json.loads(line)
            if cmd["cmd"] == "add":
                took: list[float] = []
                left = int(cmd["n"])
                while left > 0:
                    batch = min(8, left)
                    got = await asyncio.gather(*(open_viewer(http, cmd["url"], cmd["token"])
                                                 for _ in range(batch)))
                    viewers += [g[0] for g in got]
                    took += [g[1] for g in got]
                    left -= batch
                say({"n": len(viewers), "post_s": took})
            elif cmd["cmd"] == "counts":
                say({"frames": [v.frames for v in viewers],
                     "packets": [v.packets for v in viewers], "cpu_s": proc_cpu_s()})
            elif cmd["cmd"] == "keep":
                gone, viewers = viewers[int(cmd["n"]):], viewers[:int(cmd["n"])]
                await asyncio.gather(*(hang_up(http, v) for v in gone), return_exceptions=True)
                say({"n": len(viewers)})
            elif cmd["cmd"] == "quit":
                break
        await asyncio.gather(*(hang_up(http, v) for v in viewers), return_exceptions=True)
    say({})


if __name__ == "__main__":
    asyncio.run(main())
