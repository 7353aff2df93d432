"""Real face photos for the synthetic scene, from the scikit-image wheel (no downloads).

* ``skimage.data.astronaut()``: a 512×512 colour portrait; the face with hair is cropped.
* ``skimage.data.lfw_subset()``: 200 grey 25×25 tight crops; the first 100 are faces.

Both are loaded once per process and cached; callers get BGR ``uint8`` images and must not
modify them in place.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]

# Face (with hair) of the astronaut portrait, rows/columns in the 512×512 image.
_ASTRONAUT_FACE = (slice(18, 196), slice(148, 302))
_LFW_FACES = 100


@functools.cache
def astronaut_face() -> Image:
    """The astronaut's face as a BGR image (about 178×154 px)."""
    from skimage import data

    rgb = np.asarray(data.astronaut(), dtype=np.uint8)  # type: ignore[no-untyped-call]
    crop = np.ascontiguousarray(rgb[_ASTRONAUT_FACE][:, :, ::-1])
    return crop


@functools.cache
def lfw_faces() -> tuple[Image, ...]:
    """The 100 face crops of ``lfw_subset`` as BGR 25×25 images."""
    from skimage import data

    grey = np.asarray(data.lfw_subset(), dtype=np.float64)  # type: ignore[no-untyped-call]
    grey = grey[:_LFW_FACES]
    out: list[Image] = []
    for g in grey:
        u8 = np.clip(g * 255.0, 0, 255).astype(np.uint8)
        out.append(cv2.cvtColor(u8, cv2.COLOR_GRAY2BGR))
    return tuple(out)


def face_sprite(index: int, size: int) -> Image:
    """Face number ``index`` scaled to ``size`` px high (index 0 is the astronaut)."""
    src = astronaut_face() if index == 0 else lfw_faces()[(index - 1) % _LFW_FACES]
    h, w = src.shape[:2]
    width = max(1, round(size * w / h))
    interp = cv2.INTER_AREA if size < h else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(src, (width, size), interpolation=interp), dtype=np.uint8)
