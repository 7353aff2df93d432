"""Latency markers drawn into frames: a block barcode, and whole-frame flashes.

Barcode (``draw_marker`` / ``decode_marker``)
    The capture time in milliseconds since the UNIX epoch (48 bits, wraps in ~8900 years)
    is drawn as square black/white blocks of ``block`` px, row-major from the top-left
    corner, ``width // block`` blocks per row: first a white and a black reference block
    (the decoder thresholds halfway between them, so brightness/contrast shifts from the
    codec do not matter), then the 48 data bits (most significant first, white = 1), then an
    8-bit CRC of the data. Each block is read from its central half, so ringing at block
    edges is ignored. 16 px blocks survive VP8 at 0.5–1 Mbps at 720p. A relay that
    pixelates the whole frame destroys 16 px blocks; with ``block=32`` the marker survives
    a 32 px pixelation grid aligned to the frame's top-left corner. For any other blur, use
    flashes.

Flash (``flash_on`` / ``decode_flash``)
    During the first ``FLASH_DURATION`` seconds of every ``FLASH_PERIOD`` seconds of
    capture time (UNIX time), the whole frame is white; otherwise it is the normal scene,
    whose mean brightness stays well below ``FLASH_THRESHOLD``. A receiver on the same clock
    looks for the rising edge (``decode_flash`` turns True) and computes
    ``latency = arrival - floor(arrival / FLASH_PERIOD) * FLASH_PERIOD``, valid while
    the latency is below ``FLASH_PERIOD - FLASH_DURATION`` (see ``flash_latency``). Flashes
    survive any blur, pixelation or downscaling.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]

DATA_BITS = 48
CRC_BITS = 8
MARKER_BLOCKS = 2 + DATA_BITS + CRC_BITS
FLASH_PERIOD = 1.0
FLASH_DURATION = 0.1
FLASH_THRESHOLD = 200.0


def _crc8(value: int) -> int:
    """CRC-8 (polynomial 0x07) of the 6 big-endian bytes of ``value``."""
    crc = 0
    for byte in value.to_bytes(6, "big"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _bits(stamp: float) -> list[int]:
    ms = round(stamp * 1000.0) & ((1 << DATA_BITS) - 1)
    word = (ms << CRC_BITS) | _crc8(ms)
    n = DATA_BITS + CRC_BITS
    return [1, 0] + [(word >> (n - 1 - i)) & 1 for i in range(n)]


def _block_origin(index: int, width: int, block: int) -> tuple[int, int]:
    per_row = width // block
    return (index // per_row) * block, (index % per_row) * block


def marker_height(width: int, block: int = 16) -> int:
    """Rows at the top of a ``width``-wide frame that the marker covers."""
    per_row = width // block
    if per_row < 1:
        raise ValueError(f"frame width {width} is narrower than one {block} px block")
    return math.ceil(MARKER_BLOCKS / per_row) * block


def draw_marker(image: Image, stamp: float, block: int = 16) -> None:
    """Draw ``stamp`` (UNIX seconds, ms resolution) into the top rows of ``image`` in place."""
    h, w = image.shape[:2]
    if marker_height(w, block) > h:
        raise ValueError("frame too small for the marker")
    for i, bit in enumerate(_bits(stamp)):
        y, x = _block_origin(i, w, block)
        image[y : y + block, x : x + block] = 255 if bit else 0


def decode_marker(image: Image, block: int = 16) -> float | None:
    """The capture time (UNIX seconds) drawn by ``draw_marker``, or None if there is none.

    ``image`` is BGR or grey ``uint8``; a failed CRC or missing contrast gives None.
    """
    h, w = image.shape[:2]
    if w // block < 1 or marker_height(w, block) > h:
        return None
    grey = image if image.ndim == 2 else image.mean(axis=2)
    q = block // 4
    levels: list[float] = []
    for i in range(MARKER_BLOCKS):
        y, x = _block_origin(i, w, block)
        levels.append(float(grey[y + q : y + block - q, x + q : x + block - q].mean()))
    white, black = levels[0], levels[1]
    if white - black < 60.0:
        return None
    threshold = (white + black) / 2.0
    word = 0
    for level in levels[2:]:
        word = (word << 1) | (1 if level > threshold else 0)
    ms, crc = word >> CRC_BITS, word & 0xFF
    if _crc8(ms) != crc:
        return None
    return ms / 1000.0


def flash_on(stamp: float) -> bool:
    """Whether a frame captured at ``stamp`` (UNIX seconds) is a flash frame."""
    return (stamp % FLASH_PERIOD) < FLASH_DURATION


def decode_flash(image: Image) -> bool:
    """Whether ``image`` (BGR or grey ``uint8``, any size) is a flash frame."""
    # A strided sample is plenty for a whole-frame mean and costs microseconds.
    return float(image[::8, ::8].mean()) > FLASH_THRESHOLD


def flash_latency(arrival: float) -> float:
    """Latency of a flash whose rising edge arrived at ``arrival`` (UNIX seconds)."""
    return arrival - math.floor(arrival / FLASH_PERIOD) * FLASH_PERIOD
