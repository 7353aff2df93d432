"""A change of the whole picture: a scene cut, an exposure jump, a moved camera.

After such a change the background model knows nothing of the new picture, and a face that
stands still in it is seen only by the face sweep. ``PictureChange.check`` compares a tiny
grey thumbnail of each frame (40×24, from the motion layer's small picture: ≈ 0.05 ms)
with the one ``lag`` frames before:

* ``exposure``: the mean brightness moved by more than ``exposure`` of itself (clouds,
  auto-exposure, lights switched on);
* ``picture``: after normalising brightness and contrast, more than ``structure`` of the
  thumbnail changed (a cut, another camera, the camera moved or turned).

A walker, even a near one, changes a part of the picture, not most of it. The layered filter
answers a change by starting over (``LayeredFilter.restart``): the first-sweep rule again.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
import numpy.typing as npt

THUMB = (40, 24)


class PictureChange:
    def __init__(self, *, lag: int = 3, exposure: float = 0.2, structure: float = 0.4) -> None:
        self.lag = lag
        self.exposure = exposure
        self.structure = structure
        self._thumbs: deque[npt.NDArray[np.float32]] = deque(maxlen=lag + 1)

    def reset(self) -> None:
        self._thumbs.clear()

    def check(self, grey: npt.NDArray[np.uint8]) -> str:
        """``grey``: this frame, small and grey. The kind of change ("exposure",
        "picture"), or "" for none."""
        g = np.asarray(cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA), np.float32)
        self._thumbs.append(g)
        if len(self._thumbs) <= self.lag:
            return ""
        old = self._thumbs[0]
        m0, m1 = float(old.mean()), float(g.mean())
        if abs(m1 - m0) > self.exposure * max(m0, m1, 16.0):
            return "exposure"
        a = (old - m0) / (float(old.std()) + 4.0)
        b = (g - m1) / (float(g.std()) + 4.0)
        if float((np.abs(a - b) > 0.5).mean()) > self.structure:
            return "picture"
        return ""
