"""Which part of the frame the face detector looks at, frame by frame.

A full-resolution pass of CenterFace over a 720p frame costs ≈ 140 ms on one core; one at
320 pixels wide ≈ 12 ms but only finds faces from ≈ 96 px up. So the work is spread:

* every ``coarse_every``-th frame: the whole frame at ``coarse_width`` (large, near faces,
  the ones that appear fastest); what it finds below ``min_coarse_face`` is not sure
  (``unsure_below``): there it also takes a pattern for a face now and then;
* the frames between alternate between
  - one region in motion (when ``moving`` is given), scaled to about a tile's pixels, so a
    person walking in is searched within a few frames;
  - one tile (``tile_px`` square) of a sweep over the frame scaled to each of
    ``sweep_widths`` (640: faces from ≈ 48 px; 1280: from ≈ 24 px), tiles overlapping so a
    small face is whole in at least one of them;
  - every other one of them at most: a check of the held faces below ≈ 190 px, crops
    around them (the least recently confirmed first) scaled so the face is ≈ 72 px, so a
    face the coarse pass cannot see stays confirmed (and tracked) between sweeps.

Each step costs about the same (≈ 10 ms at 720p on one core), so the per-frame cost is flat.

CenterFace finds heads tilted up to ≈ 30°; a head tilted further (leaning on a shoulder,
looking down at a phone) it misses, whatever its size. So the sweep goes over every tile
once upright and once turned by each of ``sweep_angles`` (±35°: heads tilted ≈ 10–70°), and
the boxes found turned are turned back (upright boxes around the face's ellipse). The first
sweep searches every tile, upright and turned, before the picture shows, and then every
upright tile once more, on a later frame: near the detector's limits (a small face in the
dark, behind rain, through a cheap camera's compression) whether it finds a face comes and
goes with the frame's noise (a 32 px face in near-black: found in 7 of 10 frames), and the
picture shows only when two looks found nothing there. Afterwards half
the turned tiles follow each pass of the upright ones, so an upright tile comes round
every ≈ 124 steps, not 171. A face found once is held while it stays where it was and
looks the same (``tracker``), so one find is enough.
Dark crops (dusk, a face in shadow) are brightened (gamma ½) before the detector sees them:
it finds more faces in them, and nothing changes for crops of ordinary brightness. Someone
dark in a crop of ordinary brightness (in shadow against a bright sky: backlight) is
looked for at the dark things themselves, their dark tones stretched and 1.35 times as close
(the first sweep's second look at a finest tile, the check of a held face in shadow).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from .faces import Boxes, FaceDetector, no_boxes
from .pixelate import Image
from .tracker import Rects


@dataclass(frozen=True)
class Tile:
    x0: int  # source region in frame pixels
    y0: int
    x1: int
    y1: int
    width: int  # the region is scaled to this width for detection
    angle: float = 0.0  # and turned by this many degrees (counter-clockwise)


# A crop darker than this (mean grey level) is brightened before detection.
DARK = 80
_GAMMA = np.asarray(255 * (np.arange(256) / 255) ** 0.5, np.uint8)
# A finest tile holding this share of dark pixels or more has someone dark in it, or a
# shadow: its second look in the first sweep has its dark tones stretched (×3, the bright
# ones saturate: the first look saw those) and is DARK_ZOOM times as close. (A 24 px face in
# shadow against a bright sky, grey 31: found in none of 20 frames at the tile's scale,
# with gamma ½ or stretched; stretched at 1.35 times in all 20, score 0.27.)
DARK_SHARE = 0.01
DARK_ZOOM = 1.35
DARK_PAD = 16
DARK_MIN_PX = 16 * 16  # (a dark thing smaller than a 16 px face is none)
_STRETCH = np.asarray(np.clip(np.arange(256) * 3, 0, 255), np.uint8)


def _dark_parts(image: Image, t: Tile) -> list[tuple[int, int, int, int]]:
    """The parts of tile ``t`` of ordinary brightness around its dark things (frame px, each
    ``DARK_PAD`` px larger on every side, within the tile), when they are ``DARK_SHARE`` of
    it or more; none in a dark tile (its looks are brightened anyway)."""
    step = 2
    crop = image[t.y0:t.y1:step, t.x0:t.x1:step]
    dark = (crop.max(axis=2) < DARK).view(np.uint8)
    if float(dark.mean()) < DARK_SHARE or float(crop.mean()) < DARK:
        return []
    _, _, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    p, out = DARK_PAD, []
    for x, y, w, h, area in stats[1:]:
        if area * step * step >= DARK_MIN_PX:
            out.append((max(t.x0, t.x0 + int(x) * step - p), max(t.y0, t.y0 + int(y) * step - p),
                        min(t.x1, t.x0 + int(x + w) * step + p),
                        min(t.y1, t.y0 + int(y + h) * step + p)))
    return out


def _starts(n: float, tile: int, step: int) -> list[int]:
    """Tile origins along a side of ``n`` pixels, the last one flush with the end."""
    if n <= tile:
        return [0]
    out = list(range(0, int(n) - tile, step))
    out.append(int(n) - tile)
    return out


def sweep_tiles(w: int, h: int, widths: list[int], tile: int,
                angles: list[float] | None = None) -> list[Tile]:
    """Tiles of every sweep level, coarser levels visited more often; the whole sequence
    upright, then each tile once more turned by each of ``angles``."""
    upright = _upright_tiles(w, h, widths, tile)
    once = list(dict.fromkeys(upright))  # (the coarser levels come round more than once)
    turned = [Tile(t.x0, t.y0, t.x1, t.y1, t.width, float(a))
              for a in (angles or []) if a for t in once]
    return upright + turned


def sweep_cycle(tiles: list[Tile]) -> list[Tile]:
    """The steady order of ``tiles`` (``sweep_tiles``'s): after each pass of the upright
    ones, the next half of the turned ones."""
    upright = [t for t in tiles if not t.angle]
    turned = [t for t in tiles if t.angle]
    if not turned:
        return upright
    k = max(1, -(-len(turned) // 2))
    out: list[Tile] = []
    for i in range(0, len(turned), k):
        out += upright + turned[i:i + k]
    return out


def _upright_tiles(w: int, h: int, widths: list[int], tile: int) -> list[Tile]:
    levels: list[list[Tile]] = []
    finest = max(widths, default=0)
    for sw in sorted(widths):
        k = sw / w
        # Overlap: a face this level is meant to find is whole in at least one tile. The
        # finest level looks for small faces (a quarter tile); coarser ones for faces up to
        # what the coarse pass finds (half a tile).
        step = tile - (tile // 4 if sw == finest else tile // 2)
        lv = []
        for ty in _starts(h * k, tile, step):
            for tx in _starts(sw, tile, step):
                x0, y0 = int(tx / k), int(ty / k)
                x1 = min(w, int(np.ceil((tx + tile) / k)))
                y1 = min(h, int(np.ceil((ty + tile) / k)))
                lv.append(Tile(x0, y0, x1, y1, min(tile, round((x1 - x0) * k))))
        levels.append(lv)
    if not levels:
        return []
    # Interleave: the whole of the first (coarsest) level, then a chunk of the next, ...
    first, rest = levels[0], [t for lv in levels[1:] for t in lv]
    if not rest:
        return first
    seq: list[Tile] = []
    n = max(1, len(first))
    for i in range(0, len(rest), n):
        seq += first + rest[i:i + n]
    return seq


class FaceScanner:
    def __init__(self, detector: FaceDetector, *, coarse_width: int, coarse_every: int,
                 sweep_widths: list[int], tile_px: int,
                 sweep_angles: list[float] | None = None, turned_score: float = 0.2) -> None:
        self.detector = detector
        # A turned tile is one more chance for a pattern to pass as a face, held while its
        # place looks the same: its finds need the ordinary score, small or not (a 0.17
        # shadow in the test street; 203 of 218 turned true finds score over 0.2).
        self.turned_score = turned_score
        self.coarse_width = coarse_width
        self.coarse_every = max(1, coarse_every)
        self.sweep_widths = sweep_widths
        self.sweep_angles = list(sweep_angles or [])
        self.tile_px = tile_px
        self._size: tuple[int, int] = (0, 0)
        self._tiles: list[Tile] = []  # the first sweep's order: every tile once
        self._cycle: list[Tile] = []  # the order afterwards (``sweep_cycle``)
        self._next_tile = 0
        self._next_cycle = 0
        self._again: list[Tile] = []  # the first sweep's second looks still to take
        self._frame = 0
        self._last_check = -(10**9)
        self._motion_turn = False
        self._motion_next = 0
        self.sweeps = 0  # completed sweeps over all tiles
        self.checked: list[int] = []  # indices of the held faces the last scan looked for
        # The last scan's finds smaller than this (frame px) are not sure: the coarse pass
        # below the size it finds reliably (0: all sure).
        self.unsure_below = 0.0

    def min_coarse_face(self, w: int) -> float:
        """Faces smaller than this (frame px) are beyond the coarse pass."""
        # CenterFace finds faces from ≈ 32 px reliably; below ≈ 48 px (at the coarse scale)
        # it misses some, so those are re-checked at full resolution too.
        return 48.0 * w / self.coarse_width if self.coarse_width else 0.0

    def scan(self, image: Image, held: Rects, moving: Rects | None = None,
             first: Collection[int] = ()) -> Boxes:
        """One step of detection on ``image``: boxes found, in frame pixels. ``held``: boxes
        of faces being tracked (x0, y0, x1, y1, frames since last looked for); ``moving``:
        regions in motion, searched first; ``first``: indices into ``held`` that the next
        check looks for before the others (faces that may have walked on: one look tells)."""
        h, w = image.shape[:2]
        self._fit(w, h)
        frame = self._frame
        self._frame += 1
        self.checked = []
        self.unsure_below = 0.0
        if frame % self.coarse_every == 0 or (not self._tiles and not len(held)):
            # The whole frame: every held face the coarse pass can see was looked for.
            self.checked = [i for i, b in enumerate(held)
                            if b[2] - b[0] >= self.min_coarse_face(w)]
            if self._tiles:  # (closer looks follow)
                self.unsure_below = self.min_coarse_face(w)
            return self.detector.detect(image, self.coarse_width)
        small = [i for i, b in enumerate(held) if b[2] - b[0] < self.min_coarse_face(w)]
        if small and (frame - self._last_check >= 2 * self.coarse_every or not self._tiles):
            self._last_check = frame
            return self._check(image, held, small, first)
        self._motion_turn = not self._motion_turn
        if moving is not None and len(moving) and self._motion_turn:
            return self._in_motion(image, moving, held)
        if not self._tiles:
            return self.detector.detect(image, self.coarse_width)
        t = self._advance()
        return self._detect_in(image, t.x0, t.y0, t.x1, t.y1, t.width, t.angle)

    def _advance(self) -> Tile:
        """The next tile: in the first sweep's order until every tile has been searched
        once (also for a scanner used without ``first_sweep``), then in the cycle's."""
        if self.sweeps > 0:
            t = self._cycle[self._next_cycle]
            self._next_cycle = (self._next_cycle + 1) % len(self._cycle)
            self.sweeps += self._next_cycle == 0
            return t
        t = self._tiles[self._next_tile]
        self._next_tile = (self._next_tile + 1) % len(self._tiles)
        if self._next_tile == 0:
            self._next_cycle = 0
            self.sweeps += 1
        return t

    def _fit(self, w: int, h: int) -> None:
        """A new frame size starts a new sweep."""
        if (w, h) != self._size:
            self._size = (w, h)
            self._tiles = sweep_tiles(w, h, self.sweep_widths, self.tile_px,
                                      self.sweep_angles)
            self._cycle = sweep_cycle(self._tiles)
            self.restart()

    def restart(self) -> None:
        """The picture changed as a whole: every tile is to be searched again before the
        picture is trusted (``swept`` is False until then)."""
        self._next_tile, self._next_cycle = 0, 0
        self.sweeps = 0
        self._again = []

    @property
    def swept(self) -> bool:
        """Has every tile been searched at least once, and every upright one twice, since
        the frame size was set or the scanner restarted (``first_sweep``)?"""
        return self.sweeps > 0 and not self._again

    def first_sweep(self, image: Image, budget_s: float) -> Boxes:
        """Before the first sweep is complete, search tiles for up to ``budget_s`` (at least
        one tile) on this frame: the caller pixelates the whole frame meanwhile, so the
        faces already in view are all known when the picture first shows."""
        h, w = image.shape[:2]
        self._fit(w, h)
        if not self._tiles:
            self.sweeps = 1
            return self.detector.detect(image, self.coarse_width)
        deadline = time.perf_counter() + budget_s
        found = ([self.detector.detect(image, self.coarse_width)]
                 if self._next_tile == 0 and self.sweeps == 0 else [])
        first_pass = self.sweeps == 0
        while not self.swept:
            found.append(self.first_step(image))
            if time.perf_counter() >= deadline or (first_pass and self.sweeps > 0):
                break  # (the second looks start on the next frame: another frame's noise)
        return np.concatenate(found) if found else no_boxes()

    def first_step(self, image: Image) -> Boxes:
        """One tile of the first sweep: each in the first sweep's order, then each upright
        one (once, however often its level comes round) a second time."""
        if self.sweeps == 0:
            t = self._advance()
            if not t.angle and t not in self._again:
                self._again.append(t)
        else:
            t = self._again.pop(0)
            parts = _dark_parts(image, t) if t.width >= t.x1 - t.x0 else []
            if parts:
                # The second look at a finest tile with someone dark in it (a person in
                # shadow against a bright sky): also at the dark parts,
                # stretched, a little closer.
                k = t.width / (t.x1 - t.x0) * DARK_ZOOM
                return np.concatenate([
                    self._detect_in(image, t.x0, t.y0, t.x1, t.y1, t.width, t.angle),
                    *(self._detect_in(image, x0, y0, x1, y1, round((x1 - x0) * k),
                                      lut=_STRETCH) for x0, y0, x1, y1 in parts)])
        return self._detect_in(image, t.x0, t.y0, t.x1, t.y1, t.width, t.angle)

    def _in_motion(self, image: Image, moving: Rects, held: Rects) -> Boxes:
        """The next moving region (round robin; regions with no held face in them first:
        people walking in), its upper part (where a walker's head is) scaled to about one
        tile of pixels: new people are searched within a few frames, not a sweep later."""
        h, w = image.shape[:2]
        regions = moving
        if len(held):
            cx = (held[:, 0] + held[:, 2]) / 2
            cy = (held[:, 1] + held[:, 3]) / 2
            inside = ((cx[None, :] >= moving[:, 0:1]) & (cx[None, :] <= moving[:, 2:3])
                      & (cy[None, :] >= moving[:, 1:2]) & (cy[None, :] <= moving[:, 3:4]))
            new = moving[~inside.any(axis=1)]
            if len(new):
                regions = new
        self._motion_next = (self._motion_next + 1) % len(regions)
        x0, y0, x1, y1 = regions[self._motion_next]
        # A person's blob is about three times as tall as wide, the head on top.
        y1 = min(y1, y0 + max(1.5 * (x1 - x0), (y1 - y0) / 2))
        pad = 0.1 * max(x1 - x0, y1 - y0)
        x0, y0 = max(0, int(x0 - pad)), max(0, int(y0 - pad))
        x1, y1 = min(w, int(x1 + pad)), min(h, int(y1 + pad))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return no_boxes()
        k = min(1.0, self.tile_px / np.sqrt((x1 - x0) * (y1 - y0)))
        return self._detect_in(image, x0, y0, x1, y1, max(8, round((x1 - x0) * k)))

    def _detect_in(self, image: Image, x0: int, y0: int, x1: int, y1: int,
                   width: int, angle: float = 0.0,
                   lut: npt.NDArray[np.uint8] | None = None) -> Boxes:
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        if lut is not None:
            crop = np.asarray(cv2.LUT(crop, lut), np.uint8)
        elif float(crop[::4, ::4].mean()) < DARK:
            crop = np.asarray(cv2.LUT(crop, _GAMMA), np.uint8)
        if angle:
            boxes = self._detect_turned(crop, width, angle)
        else:
            boxes = self.detector.detect(crop, width)
        h, w = image.shape[:2]
        if len(boxes) and (x0 > 0 or y0 > 0 or x1 < w or y1 < h):
            # A box touching an inner edge of the crop is a cut face (a tile border): its
            # box would be too small. Overlapping tiles or checks see it whole.
            e = 2.0
            cut = (((boxes[:, 0] <= e) & (x0 > 0)) | ((boxes[:, 1] <= e) & (y0 > 0)) |
                   ((boxes[:, 2] >= x1 - x0 - e) & (x1 < w)) |
                   ((boxes[:, 3] >= y1 - y0 - e) & (y1 < h)))
            boxes = boxes[~cut]
        if len(boxes):
            boxes[:, 0:4:2] += x0
            boxes[:, 1:4:2] += y0
        return boxes

    def _detect_turned(self, crop: Image, width: int, angle: float) -> Boxes:
        """Detection in ``crop`` scaled to ``width`` and turned by ``angle`` degrees about
        its centre (same size: its corners are cut, the overlapping tiles see them); each box
        turned back (the upright box around the ellipse it holds), in pixels of ``crop``."""
        ch, cw = crop.shape[:2]
        k = width / cw if width > 0 else 1.0
        sw, sh = max(1, round(cw * k)), max(1, round(ch * k))
        small = crop if (sw, sh) == (cw, ch) else np.asarray(
            cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA if k < 1
                       else cv2.INTER_LINEAR), np.uint8)
        m = cv2.getRotationMatrix2D((sw / 2, sh / 2), angle, 1.0)
        turned = np.asarray(cv2.warpAffine(small, m, (sw, sh), borderMode=cv2.BORDER_REPLICATE),
                            np.uint8)
        boxes = self.detector.detect(turned, 0)
        boxes = boxes[boxes[:, 4] >= self.turned_score]
        if not len(boxes):
            return no_boxes()
        # Drop what touches the turned crop's edges: there it is cut or made of the border.
        e = 2.0
        inside = ((boxes[:, 0] > e) & (boxes[:, 1] > e) & (boxes[:, 2] < sw - e)
                  & (boxes[:, 3] < sh - e))
        boxes = boxes[inside]
        if not len(boxes):
            return no_boxes()
        # Turned back: the centre exactly; the size as the upright box around the ellipse
        # the box holds (a face is round: the box's corners are hair and background, and the
        # box around its four corners would be up to 1.4 times as wide).
        back = cv2.invertAffineTransform(m)
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        bx = back[0, 0] * cx + back[0, 1] * cy + back[0, 2]
        by = back[1, 0] * cx + back[1, 1] * cy + back[1, 2]
        a, b = (boxes[:, 2] - boxes[:, 0]) / 2, (boxes[:, 3] - boxes[:, 1]) / 2
        c, s = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
        hw, hh = np.hypot(a * c, b * s), np.hypot(a * s, b * c)
        out = np.stack([bx - hw, by - hh, bx + hw, by + hh, boxes[:, 4]], axis=1)
        out[:, :4] /= k
        np.clip(out[:, 0:4:2], 0, cw, out=out[:, 0:4:2])
        np.clip(out[:, 1:4:2], 0, ch, out=out[:, 1:4:2])
        result: Boxes = out.astype(np.float32)
        return result

    def _check(self, image: Image, held: Rects, small: list[int],
               first: Collection[int] = ()) -> Boxes:
        """Crops around the held faces ``small`` (indices into ``held``), each scaled so the
        face is ≈ 72 px (never enlarged): about one tile of pixels in all, those in ``first``
        first, then the least recently looked for (column 4 of ``held``), so that every face
        gets its turn even when some are never found again (gone, or never a face). Sets
        ``checked``."""
        h, w = image.shape[:2]
        budget = float(self.tile_px * self.tile_px)
        found = [no_boxes()]
        for i in sorted(small, key=lambda i: (i not in first, -float(held[i][4]))):
            b = held[i]
            size = float(max(b[2] - b[0], b[3] - b[1]))
            side = max(128.0, 2.2 * size)
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
            x1, y1 = min(w, int(cx + side / 2)), min(h, int(cy + side / 2))
            if x1 - x0 < 8 or y1 - y0 < 8:
                continue
            # A face in shadow (darker than DARK) in a crop of ordinary brightness is looked
            # for as the first sweep's second look looks at dark things: its dark tones
            # stretched, up to DARK_ZOOM times as close. (A dark crop is brightened anyway.)
            fx0, fy0 = max(0, int(b[0])), max(0, int(b[1]))
            face = image[fy0:max(fy0 + 1, int(b[3])), fx0:max(fx0 + 1, int(b[2]))]
            dark = (face.size > 0 and float(face.mean()) < DARK
                    and float(image[y0:y1:4, x0:x1:4].mean()) >= DARK)
            k = min(DARK_ZOOM if dark else 1.0, 72.0 / max(size, 1.0))
            cost = (x1 - x0) * (y1 - y0) * k * k
            if cost > budget and len(found) > 1:
                break
            budget -= cost
            found.append(self._detect_in(image, x0, y0, x1, y1, round((x1 - x0) * k),
                                         lut=_STRETCH if dark else None))
            self.checked.append(i)
        return np.concatenate(found)
