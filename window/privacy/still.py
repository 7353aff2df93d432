"""People who stop: the cells of someone who walked in and stands still stay covered.

The motion layer's background model takes whatever stands still into the background: a
person waiting at a bus stop fades out of the foreground within seconds, and faces too small
for the detector are then visible. ``StoppedCells`` keeps, per cell of the block grid, a
reference of the empty street (mean and spread of the motion layer's stretched grey
picture), learned slowly and only where nothing moves or stands. A cell is *stopped* when it
differs from that reference and it moved a moment ago or is next to a stopped cell: the
person who stopped there. It stays stopped for as long as it differs, that is until the
person leaves (then the street shows again, as the reference remembers it). A passer-by
does not stop anything: where they were, the street is back.

The threshold follows the picture's own noise (the median difference of the free cells), so
dusk noise does not stop cells by itself. Something left standing (a parked car, a bag)
stays pixelated until it goes or the picture changes as a whole (``reset``).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from .grid import BlockGrid, Cells


class StoppedCells:
    def __init__(self, *, rate: float = 0.01, calm_frames: int = 30, recent_frames: int = 8,
                 noise_k: float = 4.0, floor: float = 6.0,
                 max_frames: int = 10 * 60 * 30) -> None:
        self.rate = rate  # how fast the free street's reference follows the picture
        self.calm_frames = calm_frames  # a cell's reference is first taken after this calm
        self.recent_frames = recent_frames  # "moved a moment ago": within this many frames
        self.noise_k = noise_k
        self.floor = floor  # the least difference that counts, in grey levels
        self.max_frames = max_frames  # the longest a cell stays stopped (10 minutes)
        self.stopped: Cells | None = None
        self._ref = np.zeros((0, 0, 2), np.float32)
        self._known = np.zeros((0, 0), bool)
        self._calm = np.zeros((0, 0), np.int32)  # frames since each cell last moved
        self._age = np.zeros((0, 0), np.int32)  # frames each cell has been stopped
        self._kernel = np.ones((3, 3), np.uint8)

    def reset(self) -> None:
        self.stopped = None
        self._ref = np.zeros((0, 0, 2), np.float32)

    def update(self, grey: npt.NDArray[np.uint8], grid: BlockGrid, moved: Cells) -> Cells:
        """``grey``: the motion layer's stretched grey picture; ``moved``: the cells that
        moved this frame (or very recently). The stopped cells of this frame."""
        g = grey.astype(np.float32)
        size = (grid.cols, grid.rows)
        mean = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
        sq = cv2.resize(g * g, size, interpolation=cv2.INTER_AREA)
        spread = np.sqrt(np.maximum(sq - mean * mean, 0.0))
        feat = np.stack([mean, spread], axis=-1)
        if self._ref.shape != feat.shape or self.stopped is None:
            # No reference yet: a cell gets one once it has been calm for a while (a
            # walker in view at the start is not the street).
            self._ref = feat.copy()
            self._known = np.zeros(feat.shape[:2], bool)
            self._calm = np.zeros(feat.shape[:2], np.int32)
            self._age = np.zeros(feat.shape[:2], np.int32)
            self.stopped = grid.empty()
        ref, prev = self._ref, self.stopped
        self._calm = np.where(moved > 0, 0, self._calm + 1)
        recent = self._calm < self.recent_frames
        d = np.abs(feat[..., 0] - ref[..., 0]) + 0.5 * np.abs(feat[..., 1] - ref[..., 1])
        free = self._known & ~recent & (prev == 0)
        noise = float(np.median(d[free])) if free.any() else 0.0
        differs = self._known & (d > max(self.floor, self.noise_k * noise))
        seed = cv2.dilate((recent | (prev > 0)).astype(np.uint8), self._kernel) > 0
        self._age = np.where(differs & seed, self._age + 1, 0)
        stopped: Cells = ((self._age > 0) & (self._age <= self.max_frames)).astype(np.uint8)
        calm = (self._calm >= self.calm_frames) & (stopped == 0)
        first = calm & ~self._known
        ref[first] = feat[first]
        self._known |= first
        learn = calm & ~first
        ref[learn] += self.rate * (feat[learn] - ref[learn])
        self.stopped = stopped
        return stopped
