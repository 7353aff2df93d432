"""Zones: polygons of a site (in 0..1 of the frame) that are always pixelated."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Mask = npt.NDArray[np.uint8]


class Zones:
    def __init__(self, polygons: list[list[list[float]]]) -> None:
        self.polygons = [np.asarray(p, np.float64) for p in polygons if len(p) >= 3]
        self._cache: tuple[tuple[int, int], Mask] | None = None

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def mask(self, w: int, h: int) -> Mask:
        """255 inside any zone, 0 elsewhere; built once per frame size."""
        if self._cache is not None and self._cache[0] == (w, h):
            return self._cache[1]
        m = np.zeros((h, w), np.uint8)
        scale = np.array([w, h], np.float64)
        pts = [np.round(p * scale).astype(np.int32) for p in self.polygons]
        if pts:
            cv2.fillPoly(m, pts, 255)
        self._cache = ((w, h), m)
        return m
