"""Real face photos for the synthetic scene (no downloads).

* The astronaut: the face (with hair) cropped from ``skimage.data.astronaut()`` (Eileen
  Collins, NASA, public domain), shipped as ``assets/astronaut_face.png`` so that the camera
  agent and ``window demo`` need no scikit-image.
* ``skimage.data.lfw_subset()``: 200 grey 25×25 tight crops; the first 100 are faces. Where
  scikit-image is installed (the tests, ``pip install '.[dev]'``); a lean install uses 100
  variants of the astronaut instead (grey, mirrored, lit differently), and says so once.

Both are loaded once per process and cached; callers get BGR ``uint8`` images and must not
modify them in place.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
log = logging.getLogger("window.camera")

# Face (with hair) of the astronaut portrait, rows/columns in the 512×512 image (how
# assets/astronaut_face.png was cut).
_ASTRONAUT_FACE = (slice(18, 196), slice(148, 302))
_LFW_FACES = 100


ASSETS = Path(__file__).resolve().parent / "assets"


@functools.cache
def astronaut_face() -> Image:
    """The astronaut's face as a BGR image (about 178×154 px)."""
    img = cv2.imread(str(ASSETS / "astronaut_face.png"), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(ASSETS / "astronaut_face.png")
    return np.ascontiguousarray(img, dtype=np.uint8)


@functools.cache
def lfw_faces() -> tuple[Image, ...]:
    """The 100 face crops of ``lfw_subset`` as BGR 25×25 images (without scikit-image:
    100 variants of the astronaut)."""
    try:
        from skimage import data
    except ImportError:
        log.info("scikit-image not installed: the scene's small faces are all the astronaut")
        return _astronaut_variants(_LFW_FACES)

    grey = np.asarray(data.lfw_subset(), dtype=np.float64)  # type: ignore[no-untyped-call]
    grey = grey[:_LFW_FACES]
    out: list[Image] = []
    for g in grey:
        u8 = np.clip(g * 255.0, 0, 255).astype(np.uint8)
        out.append(cv2.cvtColor(u8, cv2.COLOR_GRAY2BGR))
    return tuple(out)


def _astronaut_variants(n: int) -> tuple[Image, ...]:
    """``n`` grey 25×25 tight crops of the astronaut's face, mirrored and lit differently."""
    face = cv2.cvtColor(astronaut_face()[40:160, 22:132], cv2.COLOR_BGR2GRAY)
    base = cv2.resize(face, (25, 25), interpolation=cv2.INTER_AREA).astype(np.float64) / 255
    out: list[Image] = []
    for i in range(n):
        g = base[:, ::-1] if i % 2 else base
        g = np.clip(g ** (0.7 + 0.6 * ((i * 37) % 100) / 100) * (0.8 + 0.4 * (i % 5) / 4), 0, 1)
        out.append(np.asarray(cv2.cvtColor((g * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR),
                              dtype=np.uint8))
    return tuple(out)


def face_sprite(index: int, size: int) -> Image:
    """Face number ``index`` scaled to ``size`` px high (index 0 is the astronaut)."""
    src = astronaut_face() if index == 0 else lfw_faces()[(index - 1) % _LFW_FACES]
    h, w = src.shape[:2]
    width = max(1, round(size * w / h))
    interp = cv2.INTER_AREA if size < h else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(src, (width, size), interpolation=interp), dtype=np.uint8)
