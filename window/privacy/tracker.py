"""Temporal safety: faces outlive their detections.

A detector misses a face now and then, and the expensive passes run only every few frames.
``BoxTracker`` keeps every face it was given for ``hold`` frames after the last detection:

* ``anchors()``: where each face was last seen, enlarged by ``margin``. A face that has not
  moved is in there;
* ``boxes()``: where a face that moved may be by now: its box moved along its estimated
  velocity, stretched ``lead`` frames ahead and grown by ``drift`` sizes a frame unseen;
* ``settle()``: what the motion layer sees at each anchor. Hidden faces (someone passes in
  front) do not age; faces that walked on are let go;
* a face that stays where it was found and looks the same there (``look``, ``same``) does
  not age either: a detector that found a face once (a head tilted, in shadow, at dusk)
  may not find it again for minutes, and nothing moves there to cover it. It is held until
  its place changes (the person leaves, turns or moves: then the motion layer has them) or
  for ``LOOK_HOLD`` frames (10 minutes);
* a face only the coarse pass found (``sure`` False: at a quarter of full resolution, below
  the size it finds faces reliably, a pattern on a wall passes for one now and then), where
  nothing moved, that the closer check has looked for ``REFUTED`` times in vain and that
  has nothing moving in its own box, is a pattern: *muted*, kept (the coarse pass's finds of
  it go on updating it) but not pixelated (``shown``). Anything moving there, or a closer
  look finding a face there, ends that. A coarse find of it is no closer look: ``unchecked``
  goes on counting (the layered filter has the check look at such finds first).

A detection that takes over a track far from where it was seen and where it was heading
leaves a *ghost* at the old place (a face that another one crossed may still be there). The
ghost keeps what was known of the face there: whether it was in motion when last seen, and
when it was last looked for; a walker's ghost is let go as the walker would have been.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from .faces import Boxes

# A detection that overlaps a track's last sighting less than this leaves a ghost there.
GHOST_IOU = 0.3

# A face in motion when last seen, unseen this many frames and with nothing moving where it
# was seen, has walked on.
VACATE_AFTER = 4

# A face found only by the coarse pass below the size it finds reliably (``sure`` False: a
# quarter of full resolution, where a pattern on a wall passes for a face now and then),
# looked for this many times by the closer check in vain, with nothing moving in its box
# since it was found nor now, is a pattern: *muted*, kept but not pixelated (``shown``).
REFUTED = 2

# Fastest plausible motion, in box sizes per frame.
MAX_STEP = 0.5

# A face's place looks the same while no cell of its look (``look``: its box when found)
# differs from the one taken then by more than this many grey levels (the channels' mean
# difference: noise averages out, a face leaving does not): an average over all cells would
# hardly notice a small face leave its box.
# It is held so for at most LOOK_HOLD frames.
LOOK_SAME = 12.0
LOOK_HOLD = 10 * 60 * 30
LOOK_CELLS = 6
# ...if it was found in a first sweep or has walked, and now moves at most this many box
# sizes a frame (a walker: 0.06–0.3).
STILL_SPEED = 0.03

# N×4 float32: x0, y0, x1, y1.
Rects = npt.NDArray[np.float32]


@dataclass
class Track:
    box: npt.NDArray[np.float32]  # x0, y0, x1, y1 at the last update or prediction
    seen: npt.NDArray[np.float32]  # where it was last detected
    velocity: npt.NDArray[np.float32]  # centre displacement per frame (dx, dy)
    age: int = 0  # frames since the last detection
    unchecked: int = 0  # frames since it was last looked for (found or not)
    in_motion: bool = False  # something moved where it was when it was last detected
    hits: int = 1
    # Its box when last found, LOOK_CELLS² mean colours; None: none taken (or to be taken).
    look: npt.NDArray[np.float32] | None = None
    held_same: int = 0  # frames held since last found because its place looked the same
    retake: bool = False  # the picture changed as a whole: take its look anew
    first: bool = False  # found during a first sweep
    walked: bool = False  # it has moved (walked in) between two detections
    sure: bool = True  # found by a closer look than the coarse pass's below its sure size
    refuted: int = 0  # closer looks in vain since (``REFUTED``)
    muted: bool = False  # a pattern, not a face: not pixelated


def look(image: npt.NDArray[np.uint8], box: npt.NDArray[np.float32]
         ) -> npt.NDArray[np.float32] | None:
    """What ``image`` shows in ``box`` (frame pixels), as LOOK_CELLS × LOOK_CELLS mean
    colours: averaged over many pixels, sensor noise hardly moves it; a person leaving,
    turning or stepping aside does. None for a box (nearly) outside the picture."""
    h, w = image.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    cells = cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1]), (LOOK_CELLS, LOOK_CELLS),
                       interpolation=cv2.INTER_AREA)
    return np.asarray(cells, np.float32)


def _scores(a: Rects, b: Rects) -> npt.NDArray[np.float32]:
    """Match scores of every box in ``a`` against every box in ``b`` (len(a) × len(b)): the
    IoU, or for disjoint boxes up to 0.3 for centres within 1.5 box sizes (small, fast
    boxes jump further than their size between two detections). Vectorized: this runs with
    the GIL held, and busy scenes have dozens of moving regions."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    A, B = a[:, None, :], b[None, :, :]
    ix = np.clip(np.minimum(A[..., 2], B[..., 2]) - np.maximum(A[..., 0], B[..., 0]), 0, None)
    iy = np.clip(np.minimum(A[..., 3], B[..., 3]) - np.maximum(A[..., 1], B[..., 1]), 0, None)
    inter = ix * iy
    area_a = (A[..., 2] - A[..., 0]) * (A[..., 3] - A[..., 1])
    area_b = (B[..., 2] - B[..., 0]) * (B[..., 3] - B[..., 1])
    union = area_a + area_b - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1e-6), 0.0)
    size = np.maximum(np.maximum(A[..., 2] - A[..., 0], A[..., 3] - A[..., 1]), 1.0)
    d = np.hypot((A[..., 0] + A[..., 2] - B[..., 0] - B[..., 2]) / 2,
                 (A[..., 1] + A[..., 3] - B[..., 1] - B[..., 3]) / 2)
    near = np.clip(0.3 * (1 - d / (1.5 * size)), 0, None)
    out: npt.NDArray[np.float32] = np.where(iou > 0, iou, near).astype(np.float32)
    return out


class BoxTracker:
    def __init__(self, *, hold: int, margin: float, lead: int, drift: float = 0.1) -> None:
        self.hold = hold
        self.margin = margin
        self.drift = drift
        self.lead = lead
        self.tracks: list[Track] = []

    def update(self, detections: Boxes | Rects | None,
               sure: npt.NDArray[np.bool_] | None = None) -> None:
        """Advance one frame. ``detections`` None: nothing was looked for this frame (tracks
        coast on their velocity); an empty array: looked, found nothing. ``sure``: per
        detection, False for a find of the coarse pass below the size it finds reliably
        (None: all sure)."""
        for t in self.tracks:
            t.box = t.box + np.tile(t.velocity, 2)
            t.age += 1
            t.unchecked += 1
        if detections is not None and len(detections):
            dets = np.asarray(detections, np.float32)[:, :4]
            self._match(dets, np.ones(len(dets), bool) if sure is None else sure)
        self.tracks = [t for t in self.tracks if t.age <= self.hold]

    def _match(self, dets: Rects, sure: npt.NDArray[np.bool_]) -> None:
        # Largest first: of several detections of one face (overlapping tiles, two scales)
        # the first updates the track, the others are duplicates.
        order = np.argsort(-(dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1]))
        dets, sure = dets[order], np.asarray(sure, bool)[order]
        n_old = len(self.tracks)
        scores = _scores(np.array([t.box for t in self.tracks], np.float32).reshape(-1, 4),
                         dets)
        matched: set[int] = set()
        ghosts: list[Track] = []
        for j, d in enumerate(dets):
            col = scores[:, j]
            best_i = int(np.argmax(col)) if len(col) else -1
            best = float(col[best_i]) if best_i >= 0 else 0.0
            if len(self.tracks) > n_old:  # tracks begun by earlier detections of this update
                fresh = _scores(np.array([t.box for t in self.tracks[n_old:]], np.float32),
                                d[None])[:, 0]
                k = int(np.argmax(fresh))
                if fresh[k] > best:
                    best, best_i = float(fresh[k]), n_old + k
            if best_i in matched and best > 0.1:
                used = self.tracks[best_i].box  # the detection that took this track
                if float(_scores(used[None], d[None])[0, 0]) > 0.1:
                    continue  # a duplicate of a detection already used this frame
                best = 0.0  # another face next to it (a still face a walker passes)
            if best <= 0.1:  # a new face: a track of its own
                matched.add(len(self.tracks))
                self.tracks.append(Track(d.copy(), d.copy(), np.zeros(2, np.float32),
                                         sure=bool(sure[j])))
                continue
            matched.add(best_i)
            t = self.tracks[best_i]
            if float(_scores(np.stack([t.seen, t.box]), d[None]).max()) < GHOST_IOU:
                # The track jumps, not where it was seen nor where its motion led (another
                # face crossed it, or a part of a face was found instead of the whole):
                # whoever was last seen there may still be there. A ghost keeps that place
                # covered until checks confirm it or it ages out.
                ghosts.append(Track(t.seen.copy(), t.seen.copy(), np.zeros(2, np.float32),
                                    t.age, t.unchecked, t.in_motion, t.hits,
                                    sure=t.sure, refuted=t.refuted, muted=t.muted))
            # The track was moved by velocity × age since its last detection.
            last = t.box - np.tile(t.velocity, 2) * t.age
            shift = ((d[:2] + d[2:]) - (last[:2] + last[2:])) / 2
            # Boxes of one still face jitter by a few pixels between scales and tiles: that
            # is not motion.
            if float(np.hypot(*shift)) < 0.2 * float(max(d[2] - d[0], d[3] - d[1])):
                shift = np.zeros(2, np.float32)
            # A face held because its place looked the same has not moved: found again in
            # its box (by another tile, a part of it), it is the same face standing there.
            cx, cy = (d[0] + d[2]) / 2, (d[1] + d[3]) / 2
            if t.held_same and t.seen[0] <= cx <= t.seen[2] and t.seen[1] <= cy <= t.seen[3]:
                shift = np.zeros(2, np.float32)
            step = shift / max(1, t.age)
            # A person's face moves at most about a third of its width a frame (walking past
            # at 1.4 m/s, 30 fps): a faster step is a detection of someone else, and must
            # not fling the box across the frame.
            size = float(max(d[2] - d[0], d[3] - d[1]))
            speed = float(np.hypot(*step))
            if speed > MAX_STEP * size:
                step = step * (MAX_STEP * size / speed)
            t.velocity = (0.5 * t.velocity + 0.5 * step).astype(np.float32)
            if float(np.hypot(*step)) > STILL_SPEED * size:
                t.walked = True
            t.box, t.seen, t.age, t.hits = d.copy(), d.copy(), 0, t.hits + 1
            if sure[j]:  # a face after all (a find that is not sure is no closer look)
                t.unchecked, t.sure, t.refuted, t.muted = 0, True, 0, False
        self.tracks += ghosts

    def settle(self, *, hidden: npt.NDArray[np.bool_], vacated: npt.NDArray[np.bool_],
               let_go: bool = True, same: npt.NDArray[np.bool_] | None = None) -> None:
        """Tell the tracker what the motion layer sees where each face was last seen.

        ``hidden``: something moves across it. The track does not age: a face that reappears
        when a passer-by has passed is still held, and blurred, until a check confirms it.
        ``vacated``: nothing moves in its own box. A face that was in motion when it was last
        detected, has been looked for since in vain for ``VACATE_AFTER`` frames or more,
        and has nothing moving where it was, has walked on (or turned away): its anchor is
        dropped when ``let_go`` (what moves is blurred anyway). Where it went, it moves. A
        face seen where nothing moved stays held.
        ``same``: its place looks as it did when it was found (``same_place``): it stays
        held, walked on or not.
        A track only the coarse pass found (not ``sure``), seen where nothing moved, that the
        closer check has looked for ``REFUTED`` times in vain (``refute``) and that has
        nothing moving in its own box is muted: kept (the coarse pass's finds of it go on
        updating it) but not pixelated. Anything moving in its box unmutes it and starts
        the count again (someone may be standing there now).
        """
        keep = []
        if same is None:
            same = np.zeros(len(self.tracks), bool)
        for t, hide, gone, kept in zip(self.tracks, hidden, vacated, same, strict=True):
            if t.age == 0:
                t.in_motion = not gone
            if not gone:
                t.refuted, t.muted = 0, False
            elif not t.sure and not t.in_motion and t.refuted >= REFUTED:
                t.muted = True
            if t.age == 0:
                pass
            elif hide:
                t.age -= 1
            elif kept:  # still there: held, not aged, not let go
                t.age -= 1
                keep.append(t)
                continue
            walked_on = t.in_motion and t.unchecked < t.age
            if not (let_go and gone and t.age >= VACATE_AFTER and walked_on):
                keep.append(t)
        self.tracks = keep

    def same_place(self, image: npt.NDArray[np.uint8], *, first: bool = False
                   ) -> npt.NDArray[np.bool_]:
        """Per track: does its place look as it did when it was last found? Takes the look
        of every track found in this frame (or after ``forget_looks``) that was found in a
        first sweep (``first``: someone there since the picture began) or has moved between
        two detections (``walked``: someone who walked in): a pattern on a wall the detector
        takes for a face now and then never moves, and is held only as long as ever. A
        ghost has none either. Only a face that hardly moves (``STILL_SPEED``: two tiles'
        boxes of one face differ a little) is held so: a walker's place may look the same
        for a frame or two while the walker is already leaving it, and its box has to coast
        on with them. Its box then stays where it was found."""
        out = np.zeros(len(self.tracks), bool)
        for i, t in enumerate(self.tracks):
            # The face's own box: someone passing behind a person changes the street around
            # their face, not the face (the anchor's margin would let it go then).
            box = t.seen
            if first and t.age == 0:
                t.first = True
            if t.age == 0 or t.retake:
                ok = t.first or t.walked
                t.look, t.held_same, t.retake = (look(image, box) if ok else None), 0, False
                continue
            if t.look is None:
                continue
            now = look(image, box)
            if now is None or now.shape != t.look.shape:
                continue
            size = max(1.0, float(t.seen[2] - t.seen[0]))
            if (float(np.hypot(*t.velocity)) <= STILL_SPEED * size
                    and float(np.abs((now - t.look).mean(axis=2)).max()) <= LOOK_SAME
                    and t.held_same < LOOK_HOLD):
                t.held_same += 1
                out[i] = True
                # Still where it was found: its box stays there, it does not coast on.
                t.box, t.velocity = t.seen.copy(), np.zeros(2, np.float32)
        return out

    def refute(self, looked: list[Track]) -> None:
        """``looked``: tracks the detector looked for this frame (taken before ``update``);
        those not found there count one refutation more."""
        for t in looked:
            if t.age > 0:
                t.refuted += 1

    def shown(self) -> npt.NDArray[np.bool_]:
        """Per track: is it pixelated (not muted)?"""
        return np.array([not t.muted for t in self.tracks], bool)

    def keep_same(self, same: npt.NDArray[np.bool_]) -> None:
        """Tracks whose place looks the same do not age this frame (``settle`` does this
        too, with the motion layer's view)."""
        for t, kept in zip(self.tracks, same, strict=True):
            if kept and t.age > 0:
                t.age -= 1

    def forget_looks(self) -> None:
        """The picture changed as a whole: every held face's look is taken anew."""
        for t in self.tracks:
            t.look, t.retake = None, True

    def seen_boxes(self) -> Rects:
        """Where every held face was last detected (its own box)."""
        return np.array([t.seen for t in self.tracks], np.float32).reshape(-1, 4)

    def anchors(self) -> Rects:
        """Where every held face was last detected, enlarged by ``margin``: a face that has
        not moved since is in there."""
        if not self.tracks:
            return np.zeros((0, 4), np.float32)
        seen = np.array([t.seen for t in self.tracks], np.float32)
        size = np.concatenate([seen[:, 2:] - seen[:, :2]] * 2, axis=1)
        out = seen + np.float32(self.margin) * size * np.array([-1, -1, 1, 1], np.float32)
        return out.astype(np.float32)

    def boxes(self) -> Rects:
        """Every held box, enlarged, stretched in its direction of motion and grown by
        ``drift`` box sizes for every frame unseen: where a face that walked on may be."""
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
