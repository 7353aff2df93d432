"""Irreversible blur: pixelation (area-average into blocks, then nearest-neighbour back up).

A block of B×B pixels keeps only its mean colour, so detail below B pixels is gone for good,
unlike a light Gaussian that deconvolution can partly undo. Costs ≈ 1 ms for a 720p frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def shrink(image: Image, w: int, h: int) -> Image:
    """``image`` area-averaged down to ``w``×``h``.

    Halving steps first (a 2×2 mean, fast), then ``INTER_AREA`` for the rest: plain
    ``INTER_AREA`` from 720p costs 1–3 ms, this ≈ 0.3 ms.
    """
    src = image
    while src.shape[1] >= 2 * w and src.shape[0] >= 2 * h and src.shape[1] >= 4:
        hw, hh = src.shape[1] // 2, src.shape[0] // 2
        src = np.asarray(cv2.resize(src[: 2 * hh, : 2 * hw], (hw, hh),
                                    interpolation=cv2.INTER_LINEAR), np.uint8)
    if (src.shape[1], src.shape[0]) != (w, h):
        src = np.asarray(cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA), np.uint8)
    return src


def pixelate_whole(image: Image, block: int) -> Image:
    """A new image: ``image`` reduced to blocks of ``block`` pixels."""
    h, w = image.shape[:2]
    small = shrink(image, max(1, w // block), max(1, h // block))
    out: Image = np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST),
                            np.uint8)
    return out


def pixelate_box(image: Image, x0: int, y0: int, x1: int, y1: int, block: int) -> None:
    """Pixelate ``image[y0:y1, x0:x1]`` in place (clipped to the frame)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return
    image[y0:y1, x0:x1] = pixelate_whole(np.ascontiguousarray(image[y0:y1, x0:x1]), block)
