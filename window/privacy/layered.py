"""The layered filter: faces, people in motion and zones, combined on one block grid.

Each frame: MOG2 finds what moves; one detection step (``scan``, which searches moving
regions first and re-checks held faces in turn) feeds the face tracker. Then every layer
marks cells of the pixelation grid (``grid``):

* faces: where each held face was last seen, enlarged (the *anchor*). A face hidden by a
  passer-by is held until it shows again; one that was walking, has been looked for in vain
  and has nothing moving in its own box has walked on and is let go (the next check of held
  faces looks for such faces first). A pattern only the coarse pass takes for a face, which
  the check refutes (it looks at such finds first too), is not marked (``tracker``). In
  mode ``faces`` also the cells where a face may have walked to (its box coasting along its
  motion, growing while unseen) where something moves there;
* people in motion (mode ``people``): every cell the motion layer's foreground touches, held
  for a few frames: the people themselves, not their bounding boxes, so the street stays
  visible;
* dark and flat (``privacy.dark_flat_sd``): where the picture is too dark and too even for
  the detector to find a small face (dusk, fog at night), whoever may stand there;
* zones: the site's polygons.

Marked cells are pixelated in one go. A face larger than ``closeup_share`` of the frame, or a
moving region larger than ``closeup_motion_share``, pixelates the whole frame until it has
been calm for ``closeup_hold_frames`` frames. Until the sweep has searched every tile once,
upright and turned, and every upright one twice (≈ 1 s, several tiles a frame), the whole
frame is pixelated (in blocks of at least a third of the largest face found), so faces
already in view when the feed starts are known before the first picture shows. Every
change of the whole picture starts that over (``restart``): a new frame size, an exposure
jump or a cut or moved camera (``change.PictureChange``), a gap in the feed (the stage calls
``restart``); the background model and the stopped-people layer learn the new picture
meanwhile.

In mode ``people`` a person who walked in and stopped keeps their cells while they stand
there (``still.StoppedCells``), after the background model has taken them in. The model
loads and warms up on a background thread; ``ready()`` is False until then (the stage
pixelates whole meanwhile).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import cv2
import numpy as np
import numpy.typing as npt

from ..config import PrivacyConfig, PrivacyMode, SiteConfig
from .change import PictureChange
from .faces import CenterFace, FaceDetector
from .filter import FilterResult
from .grid import BlockGrid, Cells
from .motion import MotionDetector, dark_and_flat
from .pixelate import Image, pixelate_box, pixelate_whole
from .scan import DARK, FaceScanner
from .still import StoppedCells
from .tracker import BoxTracker
from .zones import Zones

log = logging.getLogger("window.privacy")


def _default_detector(cfg: PrivacyConfig) -> FaceDetector:
    return CenterFace(cfg.face_model, threads=cfg.threads, threshold=cfg.face_threshold,
                      small_threshold=cfg.small_face_threshold)


# Frames the background model learns at its own fast pace after a (re)start.
FAST_FRAMES = 12
# Dark and flat (``privacy.dark_flat_sd``): measured over about this many pixels of the
# frame around each point (the neighbourhood of a small face, as in a tile).
DARK_FLAT_PX = 124


class LayeredFilter:
    def __init__(self, mode: PrivacyMode, cfg: PrivacyConfig, site: SiteConfig, *,
                 detector: Callable[[PrivacyConfig], FaceDetector] = _default_detector,
                 background: bool = True) -> None:
        if mode not in (PrivacyMode.PEOPLE, PrivacyMode.FACES):
            raise ValueError(f"LayeredFilter does not do mode {mode}")
        self.name = str(mode)
        self.cfg = cfg
        self.zones = Zones(site.zones)
        self.motion = MotionDetector(width=cfg.motion_width, min_area=cfg.motion_min_area)
        self.blur_motion = mode is PrivacyMode.PEOPLE
        self.change = PictureChange()
        self.still = StoppedCells()
        self.restarts = 0  # changes of the whole picture since the filter began
        self._size = (0, 0)
        self.faces = BoxTracker(hold=cfg.hold_frames, margin=cfg.box_margin,
                                lead=cfg.lead_frames)
        # Mode "people" blurs the moving pixels themselves, cell by cell of the block grid.
        self._grid: BlockGrid | None = None
        self._motion_age = np.zeros((0, 0), np.uint8)  # frames since each cell last moved
        self._zones_cells: Cells | None = None
        self.scanner: FaceScanner | None = None
        self.load_error: BaseException | None = None
        self._closeup_left = 0
        self._low_contrast = False
        self._ready = threading.Event()
        self._loaded = threading.Event()  # set when loading ended, also on failure
        self._closed = False
        if background:
            # Not a daemon: a daemon thread killed inside onnxruntime at interpreter exit
            # aborts the process ("FATAL: exception not rethrown").
            threading.Thread(target=self._load, args=(detector,), name="privacy-load",
                             daemon=False).start()
        else:
            self._load(detector)

    def _load(self, make: Callable[[PrivacyConfig], FaceDetector]) -> None:
        try:
            self._load_model(make)
        finally:
            self._loaded.set()

    def _load_model(self, make: Callable[[PrivacyConfig], FaceDetector]) -> None:
        started = time.perf_counter()
        try:
            det = make(self.cfg)
            # Warm up every input shape used at 720p: the first runs allocate.
            warm = np.zeros((720, 1280, 3), np.uint8)
            for _ in range(2):
                det.detect(warm, self.cfg.detect_width)
                det.detect(warm[: self.cfg.tile_px, : self.cfg.tile_px], self.cfg.tile_px)
            self.scanner = FaceScanner(det, coarse_width=self.cfg.detect_width,
                                       coarse_every=self.cfg.detect_every,
                                       sweep_widths=self.cfg.sweep_widths,
                                       tile_px=self.cfg.tile_px,
                                       sweep_angles=self.cfg.sweep_angles,
                                       turned_score=self.cfg.face_threshold)
        except Exception as e:  # fail closed: never ready, the stage pixelates whole
            self.load_error = e
            log.exception("face detector failed to load")
            return
        log.info("face detector ready", extra={"seconds": round(time.perf_counter() - started,
                                                                 2)})
        self._ready.set()

    def ready(self) -> bool:
        return self._ready.is_set() and not self._closed

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until loading has finished, well or badly; True when ready."""
        self._loaded.wait(timeout)
        return self.ready()

    def apply(self, image: Image) -> FilterResult:
        scanner = self.scanner
        if scanner is None:
            raise RuntimeError("face detector not loaded")
        h, w = image.shape[:2]
        held = np.array([[*t.box, t.unchecked] for t in self.faces.tracks],
                        np.float32).reshape(-1, 5)
        # While the first sweep pixelates the whole picture, the background model learns at
        # its own fast pace (who was standing where when it began is gone from it sooner),
        # for FAST_FRAMES at most; afterwards no faster than 1 / FASTEST. (A sweep of
        # turned tiles lasts ≈ 25 frames: learning fast that long, the model took in people
        # who walked in and stopped in the first second, before the stopped-people layer
        # saw them stand.)
        self.motion.slow = scanner.swept or self.motion.frames >= FAST_FRAMES
        regions = self.motion.detect(image)
        grey = self.motion.grey
        change = self.change.check(grey) if grey is not None else ""
        if self.motion.drifted:
            change = "contrast"
        if (w, h) != self._size:
            change = "size" if self._size != (0, 0) else ""
            self._size = (w, h)
        if change:
            self.restart(change)
        # A picture with almost no contrast: neither the motion layer nor the face detector
        # can see anyone in it. Whole, until it has clearly more (hysteresis).
        floor = self.cfg.min_contrast * (1.25 if self._low_contrast else 1.0)
        self._low_contrast = self.motion.contrast < floor
        grid = self._grid_for(w, h)
        # The motion and stopped-people layers follow every frame, the first sweep's too.
        moving = self._moving_cells(grid)
        stopped = (self.still.update(grey, grid, self._new_cells(grid))
                   if self.blur_motion and grey is not None else None)
        if self._low_contrast:
            return FilterResult(pixelate_whole(image, self._whole_block()),
                                faces=len(self.faces.tracks), regions=len(regions),
                                blurred_share=1.0, whole=True, whole_reason="low-contrast")
        if not scanner.swept:
            # Until every tile has been searched once, nobody in view is known yet.
            swept = scanner.first_sweep(image, self.cfg.first_sweep_ms / 1000)
            self.faces.update(swept[:, :4])
            # Faces found stay held while the sweep goes on where they stand unchanged.
            self.faces.keep_same(self.faces.same_place(image, first=True))
            # A face that large is held after the sweep. (Not moving regions: the background
            # model has only begun to learn.)
            if self._closeup(swept, regions[:0], w * h):
                self._closeup_left = self.cfg.closeup_hold_frames  # held after the sweep
            return FilterResult(pixelate_whole(image, self._whole_block()),
                                faces=len(self.faces.tracks), regions=len(regions),
                                blurred_share=1.0, whole=True, whole_reason="first-sweep")
        found = scanner.scan(image, held, regions, self._look_first(grid))
        looked = [self.faces.tracks[i] for i in scanner.checked]
        for t in looked:  # looked for, found or not: the others' turn next
            t.unchecked = 0
        self.faces.update(found[:, :4], found[:, 2] - found[:, 0] >= scanner.unsure_below)
        self.faces.refute(looked)
        same = self.faces.same_place(image)
        hidden, vacated = self._where_seen(grid)
        # Something moves across where a face was seen: it is hidden, keep it. A walking
        # face not found again and gone from where it was seen has walked on: in mode
        # "people" into the motion layer (drop it); in mode "faces" its coasting box is what
        # still covers it (keep it).
        # A face found where it still stands unchanged stays held (the detector may not find
        # it again: tilted, in shadow, at dusk).
        self.faces.settle(hidden=hidden, vacated=vacated, let_go=self.blur_motion,
                          same=same)
        shown = self.faces.shown()  # (not the patterns the checks refuted)
        face_boxes = self.faces.anchors()[shown]

        area = float(w * h)
        if self._closeup(found, regions, area):
            self._closeup_left = self.cfg.closeup_hold_frames
        if self._closeup_left > 0:
            self._closeup_left -= 1
            return FilterResult(pixelate_whole(image, self._whole_block()),
                                faces=len(self.faces.tracks), regions=len(regions),
                                blurred_share=1.0,
                                whole=True, whole_reason="closeup")

        cells = grid.empty()
        grid.mark_boxes(cells, face_boxes)
        if self.blur_motion:
            cells |= moving
            if stopped is not None:
                cells |= stopped
        else:
            # A face not detected this frame is where it was seen (the anchor) or it moved:
            # then it is in the motion layer's foreground, within the box its track coasts
            # and grows in. (In mode "people" all that moves is blurred anyway.)
            coast = grid.empty()
            grid.mark_boxes(coast, self.faces.boxes()[shown])
            cells |= coast & moving
        cells |= self._dark_flat_cells(grid)
        if self.zones:
            cells |= self._zone_cells(grid)
        covered = grid.pixelate(image, cells)
        # Large faces get coarser blocks: never more than box_blocks across.
        boxes = face_boxes.round().astype(np.int32)
        for x0, y0, x1, y1 in boxes:
            big = max(x1 - x0, y1 - y0) / self.cfg.box_blocks
            if big > grid.block:
                pixelate_box(image, int(x0), int(y0), int(x1), int(y1), int(big))
        if self.blur_motion:
            # A walker not (yet) found by the face search has only the motion layer's blocks:
            # over a large face that would be more than box_blocks across. A person is 1.5-2.5
            # times as wide as their face: over the upper part of a large moving region the
            # blocks are a box_blocks-th of its width (3-4 across the face, as for a face
            # found), within the cells marked anyway (no more of the street). One walking in
            # at a side shows only part of their width: there, by their height (a person is
            # about seven faces tall, and at least half of it is in view).
            for x0, y0, x1, y1 in regions:
                big = (x1 - x0) / self.cfg.box_blocks
                top = y0 + 1.5 * (x1 - x0)
                if x0 <= grid.block or x1 >= w - grid.block:
                    big = max(big, (y1 - y0) / (2 * self.cfg.box_blocks))
                    top = y0 + (y1 - y0) / 2
                if big > grid.block:
                    grid.pixelate_within(image, cells, (int(x0), int(y0), int(x1),
                                                        int(min(y1, top))), int(big))
        return FilterResult(image, faces=len(self.faces.tracks), regions=len(regions),
                            blurred_share=covered / area)

    def _closeup(self, found: npt.NDArray[np.float32], regions: npt.NDArray[np.float32],
                 area: float) -> bool:
        """Someone right in front of the camera: a face or a moving region that large."""
        def largest(boxes: Iterable[npt.NDArray[np.float32]]) -> float:
            return max((float((b[2] - b[0]) * (b[3] - b[1])) for b in boxes), default=0.0)

        return (largest(found[:, :4]) > self.cfg.closeup_share * area
                or largest(regions) > self.cfg.closeup_motion_share * area)

    def _whole_block(self) -> int:
        """Blocks of the whole-frame pixelation: ``full_block_px``, and at least a third of
        the largest face held (a face three blocks across keeps none of its features)."""
        sides = [float(max(t.seen[2] - t.seen[0], t.seen[3] - t.seen[1]))
                 for t in self.faces.tracks]
        return max(self.cfg.full_block_px, round(max(sides, default=0.0) / 3))

    def restart(self, reason: str = "gap") -> None:
        """The picture changed as a whole: pixelate it whole until every tile has been
        searched once in the new picture, and learn its background anew. Faces held stay
        held (where they were is pixelated a little longer, never less). Called on the
        filter's own thread (the stage submits it to the same worker)."""
        self.restarts += 1
        if self.scanner is not None:
            self.scanner.restart()
        self.motion.reset()
        self.change.reset()
        self.still.reset()
        self.faces.forget_looks()
        self._motion_age[:] = 255
        log.info("picture changed: first sweep again", extra={"reason": reason})

    def _grid_for(self, w: int, h: int) -> BlockGrid:
        if self._grid is None or (self._grid.width, self._grid.height) != (w, h):
            self._grid = BlockGrid(w, h, self.cfg.block_px)
            self._motion_age = np.full((self._grid.rows, self._grid.cols), 255, np.uint8)
            self._zones_cells = None
        return self._grid

    def _moving_cells(self, grid: BlockGrid) -> Cells:
        """The cells the motion layer's foreground touched this frame or within the last
        ``motion_hold_frames`` frames, grown by ``motion_pad_blocks``."""
        fg = self.motion.foreground
        age = self._motion_age
        np.minimum(age.astype(np.uint16) + 1, 255, out=age, casting="unsafe")
        if fg is not None:
            age[grid.cells_of(fg) > 0] = 0
        held: Cells = (age < self.cfg.motion_hold_frames).view(np.uint8)
        pad = self.cfg.motion_pad_blocks
        if pad > 0 and held.any():
            held = np.asarray(cv2.dilate(held, np.ones((2 * pad + 1, 2 * pad + 1), np.uint8)),
                              np.uint8)
        return held

    def _new_cells(self, grid: BlockGrid) -> Cells:
        """The cells a quarter of which or more is new to the motion layer's background
        model in this frame (its own foreground, not cleaned)."""
        fg = self.motion.new
        if fg is None or self.motion.foreground is None:
            return grid.empty()
        quarter = (fg.shape[1] * grid.block // grid.width) ** 2 // 4
        return grid.cells_of(fg, more_than=max(0, quarter - 1))

    def _look_first(self, grid: BlockGrid) -> list[int]:
        """The held faces the next check looks for before the others: one look tells what
        they are. A face that was walking when last found, has not been looked for since and
        has nothing moving in its own box may have walked on (found, it is tracked on; not
        found, it is let go). A face only the coarse pass found, where nothing moves, may be
        a pattern (found by the check, it is a face; refuted, it is muted)."""
        _, still = self._where_seen(grid)
        return [i for i, t in enumerate(self.faces.tracks) if still[i] and (
            (t.in_motion and t.unchecked >= t.age > 0)
            or (not t.sure and not t.in_motion and not t.muted))]

    def _where_seen(self, grid: BlockGrid
                    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Per held face, what moves in this very frame where it was seen: across a third of
        its anchor or more (*hidden*: someone passes in front), and nothing in its own box
        (*vacated*). A face still in its anchor overlaps its own box (the anchor's margin is
        narrower than the face): moving, it moves there. A walker's back or shoulder passing
        through the margin is not the face."""
        hidden = self._moving_share(grid, self.faces.anchors()) >= 1 / 3
        vacated = self._moving_share(grid, self.faces.seen_boxes()) == 0
        return hidden, vacated

    def _moving_share(self, grid: BlockGrid, anchors: npt.NDArray[np.float32]
                      ) -> npt.NDArray[np.float64]:
        """How much of each anchor's cells the motion layer marks in this very frame."""
        now = self._motion_age == 0
        out = np.zeros(len(anchors), np.float64)
        for i, box in enumerate(anchors):
            cells = now[grid.span(box)]
            if cells.size:
                out[i] = cells.mean()
        return out

    def _dark_flat_cells(self, grid: BlockGrid) -> Cells:
        """The cells where the picture is dark and flat (``privacy.dark_flat_sd``): there
        the detector misses more small faces than it finds (one in fog at dusk, 24 px at 24
        grey levels of contrast, was never found), and the motion layer has no one who
        stood still since the picture began."""
        raw = self.motion.raw
        if self.cfg.dark_flat_sd <= 0 or raw is None:
            return grid.empty()
        window = max(3, (raw.shape[1] * DARK_FLAT_PX // grid.width) | 1)
        flat = dark_and_flat(raw, dark=DARK, sd=self.cfg.dark_flat_sd, window=window)
        return grid.cells_of(flat)

    def _zone_cells(self, grid: BlockGrid) -> Cells:
        if self._zones_cells is None:
            # A zone's edge is drawn inclusively: a one-pixel line of it in the next block
            # over does not make that block part of the zone. Without its outer pixels (or
            # with more than a line of them) a block is the zone's, so small zones count.
            mask = self.zones.mask(grid.width, grid.height)
            inner = cv2.erode(mask, np.ones((3, 3), np.uint8))
            self._zones_cells = (grid.cells_of(np.asarray(inner, np.uint8))
                                 | grid.cells_of(mask, more_than=grid.block))
        return self._zones_cells

    def close(self) -> None:
        self._closed = True
