"""The receiving jitter buffer and NACKs of window/media/repair.py on exact packet sequences
(the end-to-end behaviour is in test_netimpair.py)."""

from __future__ import annotations

import time

from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from window.media.repair import PatientNacks, RepairingJitterBuffer, is_keyframe

PER_FRAME = 3


KEY_EVERY = 10  # frames 0, 10, 20, ... are VP8 keyframes
VP8_KEY = b"\x00\x00\x00\x9d\x01\x2a\x80\x02\x68\x01"  # RFC 6386 9.1, 640x360
VP8_DELTA = b"\x01\x00\x00"


def packet(seq: int) -> RtpPacket:
    """Frame seq // 3, three packets each, the last one with the marker bit."""
    frame = seq // PER_FRAME
    p = RtpPacket(sequence_number=seq, timestamp=3000 * frame,
                  marker=int(seq % PER_FRAME == PER_FRAME - 1))
    first = seq % PER_FRAME == 0
    p._data = (VP8_KEY if frame % KEY_EVERY == 0 else VP8_DELTA) if first else b"\x55"  # type: ignore[attr-defined]
    return p


def feed(buffer: JitterBuffer, seqs: list[int]) -> tuple[list[int], int]:
    """Frames released (by timestamp / 3000) and PLIs asked for."""
    frames, plis = [], 0
    for s in seqs:
        pli, frame = buffer.add(packet(s))
        plis += pli
        if frame is not None:
            frames.append(frame.timestamp // 3000)
    return frames, plis


def test_a_packet_that_never_comes_blocks_aiortc_but_not_us() -> None:
    seqs = [s for s in range(60) if s != 7]  # frame 2 loses its middle packet
    stock, stock_plis = feed(JitterBuffer(capacity=512, is_video=True), seqs)
    assert stock == [0, 1] and stock_plis == 0  # frozen at frame 1, waiting
    ours, plis = feed(RepairingJitterBuffer(wait_ms=0), seqs)
    # frame 2 dropped; 3-9 held back (they reference it); from keyframe 10 on, everything
    assert ours[:3] == [0, 1, 10] and ours[-1] >= 18
    assert plis >= 1  # and asked for a keyframe


def test_a_late_packet_within_the_wait_is_still_used() -> None:
    buffer = RepairingJitterBuffer(wait_ms=10_000)
    seqs = [s for s in range(30) if s != 7] + [7, 30, 31, 32, 33]
    frames, plis = feed(buffer, seqs)
    assert frames[:3] == [0, 1, 2] and plis == 0 and buffer.skips == 0


def test_a_whole_frame_is_released_when_the_next_frames_start_is_missing() -> None:
    # frame 1 complete (marker on 5); 6 (frame 2's first packet) missing: aiortc holds frame 1
    seqs = [0, 1, 2, 3, 4, 5, 7, 8]
    stock, _ = feed(JitterBuffer(capacity=512, is_video=True), seqs)
    ours, _ = feed(RepairingJitterBuffer(wait_ms=10_000), seqs)
    assert stock == [0] and ours == [0, 1]


def test_a_hole_older_than_the_senders_history_is_skipped_at_once() -> None:
    """After an outage: the packets lost are beyond any NACK; no waiting for them."""
    buffer = RepairingJitterBuffer(wait_ms=10_000)
    frames, plis = feed(buffer, [*range(9), *range(300, 420)])
    # frame 100 follows the hole (its start unknown): from the next keyframe on
    assert frames[:4] == [0, 1, 2, 110] and max(frames) >= 130 and plis >= 1


def test_while_no_keyframe_comes_the_keyframe_is_asked_for_again() -> None:
    buffer = RepairingJitterBuffer(wait_ms=0)
    seqs = [s for s in range(28) if s != 7]  # no keyframe after frame 0 arrives in time
    frames, plis = feed(buffer, seqs)
    assert frames == [0, 1] and plis > 3


def test_keyframes_are_told_apart() -> None:
    assert is_keyframe(VP8_KEY) and not is_keyframe(VP8_DELTA + b"\x9d\x01\x2a")
    assert is_keyframe(b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x01\x65\x88")  # SPS, IDR
    assert not is_keyframe(b"\x00\x00\x00\x01\x41\x9a")  # a P slice


def test_nacks_wait_for_reordering_then_repeat_and_give_up() -> None:
    nacks = PatientNacks(reorder_ms=20, again_ms=50, tries=3)
    sent: list[list[int]] = []

    def add(seq: int) -> None:
        if nacks.add(packet(seq)):
            sent.append(list(nacks.missing))

    add(0)
    add(2)  # 1 is missing: not NACKed at once (it may only be late)
    assert sent == []
    add(1)  # it was: nothing to ask for
    add(4)
    time.sleep(0.03)
    add(5)
    assert sent == [[3]]
    time.sleep(0.03)
    add(6)  # still missing after as long again: asked for a second time
    time.sleep(0.06)
    add(7)
    time.sleep(0.06)
    add(8)
    assert sent == [[3], [3], [3]]  # three tries, then no more
