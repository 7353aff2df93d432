"""Closing a peer connection (``window.media.peer_close.close_pc``) with real aiortc peers
over loopback."""

from __future__ import annotations

import asyncio
import contextlib

from aiortc import RTCPeerConnection
from peers import PatternTrack

from window.media.peer_close import close_pc


async def _connected_pair() -> tuple[RTCPeerConnection, RTCPeerConnection]:
    a, b = RTCPeerConnection(), RTCPeerConnection()
    a.addTrack(PatternTrack(160, 90))
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    async with asyncio.timeout(10):
        while a.connectionState != "connected" or b.connectionState != "connected":
            await asyncio.sleep(0.05)
    return a, b


async def test_a_close_given_up_does_not_break_the_close_under_way() -> None:
    # aiortc closes a peer itself (a failed DTLS handshake) while the relay reaps it: the
    # relay's close waits for aiortc's; giving that wait up (a timeout, shutdown) must not
    # make aiortc's own close fail at its end (InvalidStateError, in a task nobody awaits).
    a, b = await _connected_pair()
    first = asyncio.ensure_future(a.close())
    await asyncio.sleep(0)  # under way: it has begun to stop the transceivers
    second = asyncio.ensure_future(close_pc(a))
    for _ in range(3):  # waiting for the first, which is still under way
        await asyncio.sleep(0)
    assert not first.done()
    second.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await second
    await asyncio.wait_for(first, 10)  # finishes, no error
    assert a.connectionState == "closed"
    await b.close()
