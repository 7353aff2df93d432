"""Closing an aiortc peer connection for good (``close_pc``): no sender, receiver or
consent check may start after ``close()``, and a close that never finishes is dropped."""

from __future__ import annotations

import asyncio
import logging

from aiortc import RTCPeerConnection

log = logging.getLogger("window.relay")


async def _no_send(*args: object, **kwargs: object) -> None:
    return None


def _retrieve(task: asyncio.Future[None]) -> None:
    """Take a finished close's outcome (a broken peer's error is of no further use)."""
    if not task.cancelled():
        task.exception()


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
    # Shielded: a second close() awaits the first one's future, and cancelling that wait
    # (a timeout here, a task cancelled on shutdown) cancelled the future itself; the first
    # close() then failed at its end with InvalidStateError, in a task nobody awaited.
    closing = asyncio.ensure_future(pc.close())
    closing.add_done_callback(_retrieve)
    try:
        await asyncio.wait_for(asyncio.shield(closing), PC_CLOSE_TIMEOUT_S)
    except TimeoutError:
        # A close that never finishes (seen once in a while on shutdown) must not hold the
        # relay's shutdown or the reaper: what is left of the connection is dropped.
        log.warning("peer connection did not close in time; dropped",
                    extra={"timeout_s": PC_CLOSE_TIMEOUT_S})
    except Exception:  # a broken peer must not stop the closing of the others
        pass
