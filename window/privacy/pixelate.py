"""Irreversible blur: pixelation (area-average into blocks, then nearest-neighbour back up).

A block of B×B pixels keeps only its mean colour, so detail below B pixels is gone for good,
unlike a light Gaussian that deconvolution can partly undo. Costs ≈ 1 ms for a 720p frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def pixelate_whole(image: Image, block: int) -> Image:
    """A new image: ``image`` reduced to blocks of ``block`` pixels."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // block), max(1, h // block)),
                       interpolation=cv2.INTER_AREA)
    out: Image = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    return out


def pixelate_box(image: Image, x0: int, y0: int, x1: int, y1: int, block: int) -> None:
    """Pixelate ``image[y0:y1, x0:x1]`` in place (clipped to the frame)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return
    image[y0:y1, x0:x1] = pixelate_whole(np.ascontiguousarray(image[y0:y1, x0:x1]), block)
