"""People who stop: the cells of someone who walked in and stands still stay covered.

The motion layer's background model takes whatever stands still into the background: a
person waiting at a bus stop fades out of the foreground within seconds, and faces too small
for the detector are then visible. ``StoppedCells`` catches them in the moment between: when
they have stopped and the background model still calls them new.

A cell *stops* when the motion layer's foreground is in it (something arrived that is not
the street, or not yet taken in by the model) and what the cell shows has not changed for
``stable_frames`` frames (it stands still there). Its look at that moment (mean and spread
of the grey picture in the cell) is kept, and the cell stays stopped, and pixelated, for as
long as it still looks so: until the person leaves (then the street shows again, and their
leaving is motion, which the motion layer covers). It is released as soon as it changes: a
person who shifts their weight is in motion there again, covered by the motion layer, and
stops again when still.

Beside a walker nothing stops (what a walker reveals behind them is new to the model too).
People who stop side by side are then held off by each other's last steps, long enough for
the model to take the first of them in: someone who walked in, stood new and still for
``stable_frames`` frames and was new within ``recent`` frames also stops once nothing moves
within ``quiet`` cells around (the walker who revealed a street behind them walks on, in
view). Right after a start the model learns fast, and whoever walks in at a side of the
picture then may be in view before their cells were ever seen calm: there (the outermost
``side`` columns) the first look stands for the street; and a cell someone walked into is
not taken for the street by the short look that does right after a start.

Nothing else can stop a cell: a walker's cells change from frame to frame (a walker in a
plain coat keeps a cell of it while the coat is there, then lets it go), the street behind
a passer-by is not the background model's foreground, and a cell that looks the same as
always is not either. No picture of the empty street is needed, so none can be wrong:
a cell is held only while it shows what stopped in it. What someone left standing (a parked
car, a bag) stays pixelated until it goes, ``max_frames`` (10 minutes) or a change of the
whole picture (``reset``).

The thresholds follow the picture's own noise (the median change of a cell from frame to
frame), so dusk noise neither stops nor releases cells by itself.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from .grid import BlockGrid, Cells


def features(grey: npt.NDArray[np.uint8], grid: BlockGrid) -> npt.NDArray[np.float32]:
    """Per cell of ``grid``: mean and spread of ``grey`` (a picture of the whole frame, any
    size), rows × cols × 2."""
    g = grey.astype(np.float32)
    size = (grid.cols, grid.rows)
    mean = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    sq = cv2.resize(g * g, size, interpolation=cv2.INTER_AREA)
    spread = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    return np.stack([mean, spread], axis=-1).astype(np.float32)


def _distance(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]
              ) -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = (np.abs(a[..., 0] - b[..., 0])
                                    + 0.5 * np.abs(a[..., 1] - b[..., 1]))
    return out


class StoppedCells:
    def __init__(self, *, stable_frames: int = 5, calm_frames: int = 45, change: float = 2.5,
                 differ: float = 6.0,
                 noise_k: float = 3.0, max_frames: int = 10 * 60 * 30, recent: int = 15,
                 quiet: int = 12, side: int = 4) -> None:
        self.stable_frames = stable_frames  # unchanged this long while new: it stopped
        # Unchanged this long and not new: the street (longer than a walker's plain coat
        # stays in one cell).
        self.calm_frames = calm_frames
        self.change = change  # the most a still cell changes a frame, in grey levels
        self.differ = differ  # a stopped cell that changed more than this from its look
        self.noise_k = noise_k  # ...or more than this many times the noise: released
        self.max_frames = max_frames  # the longest a cell stays stopped (10 minutes)
        # One of a group: new and still for ``stable_frames`` and new within ``recent``
        # frames, and nothing moves within ``quiet`` cells (a walker beside them held off
        # their stop while the model took them in).
        self.recent = recent
        self._quiet = np.ones((2 * quiet + 1, 2 * quiet + 1), np.uint8)
        self.side = side  # columns at either side whose first look counts as calm
        self.stopped: Cells | None = None
        self._frames = 0  # since the start or a change of the whole picture
        self._last = np.zeros((0, 0, 2), np.float32)  # each cell's look a frame ago
        self._look = np.zeros((0, 0, 2), np.float32)  # each stopped cell's look on stopping
        self._stable = np.zeros((0, 0), np.int32)  # frames each cell is new and unchanged
        self._before = np.zeros((0, 0, 2), np.float32)  # its look when last calm and not new
        self._known = np.zeros((0, 0), bool)
        self._age = np.zeros((0, 0), np.int32)  # frames each cell has been stopped
        self._near = np.ones((9, 9), np.uint8)  # four cells around
        self._calm = np.zeros((0, 0), np.int32)  # frames each cell is calm and not new
        self._arrived = np.zeros((0, 0), bool)  # something new moved in since it was calm
        self._since = np.zeros((0, 0), np.int32)  # frames since the cell was last new
        self._held_new = np.zeros((0, 0), np.int32)  # frames new and still since it changed
        self._side = np.zeros((0, 0), bool)

    def reset(self) -> None:
        self.stopped = None

    def update(self, grey: npt.NDArray[np.uint8], grid: BlockGrid, new: Cells) -> Cells:
        """``grey``: the motion layer's (stretched) grey picture of this frame; ``new``: the
        cells its foreground is in this frame. The stopped cells of this frame."""
        feat = features(grey, grid)
        if self.stopped is None or self._last.shape != feat.shape:
            self._last = feat
            self._look = feat.copy()
            self._stable = np.zeros(feat.shape[:2], np.int32)
            self._before = feat.copy()
            self._known = np.zeros(feat.shape[:2], bool)
            self._calm = np.zeros(feat.shape[:2], np.int32)
            self._age = np.zeros(feat.shape[:2], np.int32)
            self._arrived = np.zeros(feat.shape[:2], bool)
            self._since = np.full(feat.shape[:2], self.recent + 1, np.int32)
            self._held_new = np.zeros(feat.shape[:2], np.int32)
            self._side = np.zeros(feat.shape[:2], bool)
            self._side[:, :self.side] = True
            self._side[:, feat.shape[1] - self.side:] = True
            self.stopped = grid.empty()
            self._frames = 0
            return self.stopped
        step = _distance(feat, self._last)
        self._last = feat
        noise = float(np.median(step))
        still = step <= max(self.change, self.noise_k * noise)
        fg = new > 0
        moved = fg & ~still
        self._arrived |= moved
        self._since = np.where(fg, 0, np.minimum(self._since + 1, self.recent + 1))
        self._held_new = np.where(still, self._held_new + fg, 0)
        # Something new that changes (a walker) beside a cell: what is revealed behind a
        # walker is not someone who stopped, however new it is to the background model.
        walking = cv2.dilate(moved.view(np.uint8), self._near) > 0
        self._stable = np.where(still & fg & ~walking, self._stable + 1, 0)
        self._calm = np.where(still & ~fg, self._calm + 1, 0)
        prev = self.stopped > 0
        # Right after a start nothing has been calm for long: a moment will do (it may be a
        # walker's plain coat; then the street revealed behind them looks new: that is what
        # the walker beside it tells). Not where someone has walked in since: the model,
        # learning fast then, may have taken them in, and their look is not the street's.
        self._frames += 1
        early = (self._frames < self.calm_frames) & ~self._arrived
        calm = (self._calm >= np.where(early, self.stable_frames, self.calm_frames)) & ~prev
        self._before[calm] = feat[calm]
        self._known |= calm
        self._arrived &= ~calm
        differ = max(self.differ, 2 * self.noise_k * noise)
        # New and unchanged for a while, and not what was there when the cell was last calm:
        # the street coming back after a passer-by is not someone who stopped.
        # A cell never seen calm (someone stood there from the first frame) has no "before":
        # nobody walked in there, so nobody stopped there either (the face sweep's job).
        # At the sides of the picture the first look stands in for it: who is there then
        # has only begun to walk in from outside.
        back = _distance(feat, self._before) <= differ
        known = self._known | self._side
        stops = (self._stable >= self.stable_frames) & ~prev & known & ~back
        # One of a group who stop side by side: a neighbour still walking beside them holds
        # off their stop, and meanwhile the model may take them in. Someone who walked in,
        # stood new and still for a while and was new a moment ago stops once nothing moves
        # within ``quiet`` cells (a walker who revealed the street behind them walks on,
        # still in view).
        quiet = cv2.dilate(moved.view(np.uint8), self._quiet) == 0
        group = ((self._held_new >= self.stable_frames) & (self._since <= self.recent)
                 & self._arrived & quiet)
        stops |= group & ~prev & known & ~back
        self._look[stops] = feat[stops]
        same = _distance(feat, self._look) <= differ
        held = (prev | stops) & same
        self._age = np.where(held, self._age + 1, 0)
        stopped: Cells = (held & (self._age <= self.max_frames)).astype(np.uint8)
        self.stopped = stopped
        return stopped
