"""Closing an aiortc peer connection for good (``close_pc``): no sender, receiver or
consent check may start after ``close()``, and a close that never finishes is dropped."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiortc import RTCPeerConnection

log = logging.getLogger("window.relay")


async def _no_send(*args: object, **kwargs: object) -> None:
    return None


# Seconds a peer connection's close may take before it is dropped.
PC_CLOSE_TIMEOUT_S = 5.0


async def close_pc(pc: RTCPeerConnection) -> None:
    """Close a peer connection for good.

    aiortc 1.16 starts a sender when the DTLS handshake finishes without checking whether
    ``close()`` ran meanwhile; a viewer that hangs up during the handshake then leaves an RTCP
    task running forever, holding the connection (benchmarks/soak.py, "hasty" viewers). So
    senders are made unable to start before closing; receivers too (a publisher that hangs
    up during the handshake left ``RTCRtpReceiver._run_rtcp`` running in the abuse soak).
    """
    for transceiver in pc.getTransceivers():
        transceiver.sender.send = _no_send  # type: ignore[method-assign]
        transceiver.receiver.receive = _no_send  # type: ignore[method-assign]
        # aioice starts consent checks when a connect() that close() overtook completes
        # (a task left for ≈ 30 s after close, seen in the abuse soak): not any more.
        dtls = transceiver.receiver.transport
        connection = getattr(dtls.transport, "_connection", None) if dtls else None
        if connection is not None:
            connection.query_consent = _no_send
    if pc.signalingState == "closed":
        # A close is under way (aiortc closes a peer itself when DTLS fails). Awaiting its
        # close() would wait on that close's own future, and giving the wait up (the timeout
        # here, a task cancelled on shutdown) would cancel that future: the close under way
        # then fails at its end with InvalidStateError, in a task nobody awaits. So: watch.
        closed = asyncio.Event()

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState == "closed":
                closed.set()

        if pc.connectionState != "closed":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), PC_CLOSE_TIMEOUT_S)
        return
    try:
        await asyncio.wait_for(pc.close(), PC_CLOSE_TIMEOUT_S)
    except TimeoutError:
        # A close that never finishes (seen once in a while on shutdown) must not hold the
        # relay's shutdown or the reaper: what is left of the connection is dropped.
        log.warning("peer connection did not close in time; dropped",
                    extra={"timeout_s": PC_CLOSE_TIMEOUT_S})
    except Exception:  # a broken peer must not stop the closing of the others
        pass
