"""Temporal safety: boxes outlive their detections.

A detector misses a face now and then, and the expensive passes run only every few frames.
``BoxTracker`` keeps every box it was given for ``hold`` frames after the last detection,
moves it along its estimated velocity meanwhile, and hands out boxes that are enlarged by
``margin`` and stretched ``lead`` frames ahead in the direction of motion, so a face never
flickers through between two detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .faces import Boxes

# N×4 float32: x0, y0, x1, y1.
Rects = npt.NDArray[np.float32]


@dataclass
class Track:
    box: npt.NDArray[np.float32]  # x0, y0, x1, y1 at the last update or prediction
    seen: npt.NDArray[np.float32]  # where it was last detected
    velocity: npt.NDArray[np.float32]  # centre displacement per frame (dx, dy)
    age: int = 0  # frames since the last detection
    hits: int = 1


def _iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    ix = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    iy = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    inter = ix * iy
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def _near(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """Match score: IoU, or for small fast boxes the closeness of centres (0..1)."""
    iou = _iou(a, b)
    if iou > 0:
        return iou
    size = max(float(a[2] - a[0]), float(a[3] - a[1]), 1.0)
    d = float(np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2))
    return max(0.0, 0.3 * (1 - d / (1.5 * size)))


class BoxTracker:
    def __init__(self, *, hold: int, margin: float, lead: int, drift: float = 0.1) -> None:
        self.hold = hold
        self.margin = margin
        self.drift = drift
        self.lead = lead
        self.tracks: list[Track] = []

    def update(self, detections: Boxes | Rects | None) -> None:
        """Advance one frame. ``detections`` None: nothing was looked for this frame (tracks
        coast on their velocity); an empty array: looked, found nothing."""
        for t in self.tracks:
            t.box = t.box + np.tile(t.velocity, 2)
            t.age += 1
        if detections is not None and len(detections):
            self._match(np.asarray(detections, np.float32)[:, :4])
        self.tracks = [t for t in self.tracks if t.age <= self.hold]

    def _match(self, dets: Rects) -> None:
        matched: set[int] = set()
        # Largest first: of several detections of one face (overlapping tiles, two scales)
        # the first updates the track, the others are duplicates.
        for d in sorted(dets, key=lambda b: -float((b[2] - b[0]) * (b[3] - b[1]))):
            best, best_i = 0.1, -1
            for i, t in enumerate(self.tracks):
                s = _near(t.box, d)
                if s > best:
                    best, best_i = s, i
            if best_i in matched:
                continue
            if best_i < 0:
                matched.add(len(self.tracks))
                self.tracks.append(Track(d.copy(), d.copy(), np.zeros(2, np.float32)))
                continue
            matched.add(best_i)
            t = self.tracks[best_i]
            # The track was moved by velocity × age since its last detection.
            last = t.box - np.tile(t.velocity, 2) * t.age
            shift = ((d[:2] + d[2:]) - (last[:2] + last[2:])) / 2
            # Boxes of one still face jitter by a few pixels between scales and tiles: that
            # is not motion.
            if float(np.hypot(*shift)) < 0.2 * float(max(d[2] - d[0], d[3] - d[1])):
                shift = np.zeros(2, np.float32)
            step = shift / max(1, t.age)
            t.velocity = (0.5 * t.velocity + 0.5 * step).astype(np.float32)
            t.box, t.seen, t.age, t.hits = d.copy(), d.copy(), 0, t.hits + 1

    def boxes(self) -> Rects:
        """Every held box, enlarged and stretched in its direction of motion."""
        if not self.tracks:
            return np.zeros((0, 4), np.float32)
        out = np.empty((len(self.tracks), 4), np.float32)
        for i, t in enumerate(self.tracks):
            # The predicted box and, until seen again, where it was last seen.
            b = np.concatenate([np.minimum(t.box[:2], t.seen[:2]),
                                np.maximum(t.box[2:], t.seen[2:])])
            w, h = t.box[2] - t.box[0], t.box[3] - t.box[1]
            # Uncertainty grows with every frame without a detection: by `drift` box sizes a
            # frame (a walker not yet measured, or turning), on top of the margin.
            m = self.margin + self.drift * t.age
            ahead = t.velocity * (self.lead + t.age / 2)
            out[i] = (b[0] - m * w + min(0.0, ahead[0]), b[1] - m * h + min(0.0, ahead[1]),
                      b[2] + m * w + max(0.0, ahead[0]), b[3] + m * h + max(0.0, ahead[1]))
        return out
