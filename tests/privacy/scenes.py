"""Real faces composited into scenes, for the privacy tests and ``benchmarks/privacy.py``.

Faces come from the scikit-image wheel: ``data.lfw_subset()`` (100 tight 25×25 face crops from
Labeled Faces in the Wild), the astronaut (Eileen Collins) and the cameraman. Nothing is
fetched from the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Face:
    image: Image  # BGR crop
    box: tuple[float, float, float, float]  # the face inside the crop, 0..1 of its size

    def scaled(self, face_px: int) -> tuple[Image, tuple[int, int, int, int]]:
        """The crop resized so the face is ``face_px`` wide, and the face box in it."""
        fx0, fy0, fx1, fy1 = self.box
        h, w = self.image.shape[:2]
        k = face_px / ((fx1 - fx0) * w)
        nw, nh = max(1, round(w * k)), max(1, round(h * k))
        interp = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
        img: Image = cv2.resize(self.image, (nw, nh), interpolation=interp)
        return img, (round(fx0 * nw), round(fy0 * nh), round(fx1 * nw), round(fy1 * nh))


@cache
def faces() -> tuple[Face, ...]:
    from skimage import data

    out: list[Face] = []
    astro = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    crop = np.ascontiguousarray(astro[20:220, 145:305])  # face at x 181-270, y 58-178
    out.append(Face(crop, ((181 - 145) / 160, (58 - 20) / 200, (270 - 145) / 160,
                           (178 - 20) / 200)))
    cam = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR)
    crop = np.ascontiguousarray(cam[90:230, 180:280])  # face at x 202-258, y 119-197
    out.append(Face(crop, (22 / 100, 29 / 140, 78 / 100, 107 / 140)))
    lfw = data.lfw_subset()[:100]  # the first 100 are faces, the rest are not
    for g in lfw:
        bgr = cv2.cvtColor((g * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        out.append(Face(bgr, (0.0, 0.0, 1.0, 1.0)))
    return tuple(out)


@cache
def _background(w: int, h: int, which: int) -> Image:
    from skimage import data

    src = [data.rocket, data.coffee, data.immunohistochemistry][which % 3]()
    img: Image = cv2.resize(cv2.cvtColor(src, cv2.COLOR_RGB2BGR), (w, h),
                            interpolation=cv2.INTER_AREA)
    return img


def background(w: int = 1280, h: int = 720, which: int = 0) -> Image:
    """A real photograph without faces, as a fresh ``h×w`` BGR frame."""
    return _background(w, h, which).copy()


def paste(scene: Image, face: Face, x: int, y: int, face_px: int) -> tuple[int, int, int, int]:
    """Paste ``face`` so its face box is ``face_px`` wide with top-left at (x, y); the box."""
    img, (bx0, by0, bx1, by1) = face.scaled(face_px)
    h, w = scene.shape[:2]
    ox, oy = x - bx0, y - by0
    ih, iw = img.shape[:2]
    sx0, sy0 = max(0, ox), max(0, oy)
    sx1, sy1 = min(w, ox + iw), min(h, oy + ih)
    if sx1 > sx0 and sy1 > sy0:
        scene[sy0:sy1, sx0:sx1] = img[sy0 - oy:sy1 - oy, sx0 - ox:sx1 - ox]
    return ox + bx0, oy + by0, ox + bx1, oy + by1


def overlaps(a: tuple[float, ...] | npt.NDArray[np.float32],
             b: tuple[float, ...] | npt.NDArray[np.float32], min_iou: float = 0.3) -> bool:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return bool(union > 0 and inter / union >= min_iou)
