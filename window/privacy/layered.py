"""The layered filter: faces, people in motion and zones, combined into one mask per frame.

Each frame: MOG2 finds regions in motion, one detection step (``scan``, which searches moving
regions first) feeds the face tracker, the moving regions (mode ``people``) feed the motion
tracker, both trackers hand out held, enlarged boxes, the site's zones are added,
and everything under the mask is pixelated in one go. A face larger than ``closeup_share``
of the frame, or a moving region larger than ``closeup_motion_share``, pixelates the whole
frame until it has been calm for ``closeup_hold_frames`` frames. Until the sweep has
searched every tile once (≈ 0.5 s, several tiles a frame) the whole frame is pixelated, so
faces already in view when the feed starts are known before the first picture shows. The
model loads and warms up on a background thread; ``ready()`` is False until then (the stage
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
from .faces import CenterFace, FaceDetector
from .filter import FilterResult
from .motion import MotionDetector
from .pixelate import Image, pixelate_box, pixelate_whole
from .scan import FaceScanner
from .tracker import BoxTracker
from .zones import Zones

log = logging.getLogger("window.privacy")


def _default_detector(cfg: PrivacyConfig) -> FaceDetector:
    return CenterFace(cfg.face_model, threads=cfg.threads, threshold=cfg.face_threshold)


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
        self.faces = BoxTracker(hold=cfg.hold_frames, margin=cfg.box_margin,
                                lead=cfg.lead_frames)
        # Moving regions are measured every frame and are body-sized: less slack.
        self.moving = BoxTracker(hold=cfg.hold_frames, margin=cfg.box_margin / 2,
                                 lead=cfg.lead_frames, drift=0.03)
        self.scanner: FaceScanner | None = None
        self.load_error: BaseException | None = None
        self._closeup_left = 0
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
                                       tile_px=self.cfg.tile_px)
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
        held = np.array([[*t.box, t.age] for t in self.faces.tracks],
                        np.float32).reshape(-1, 5)
        regions = self.motion.detect(image)
        if not scanner.swept:
            # Until every tile has been searched once, nobody in view is known yet.
            self.faces.update(scanner.first_sweep(image, self.cfg.first_sweep_ms / 1000)[:, :4])
            self.moving.update(regions)
            return FilterResult(pixelate_whole(image, self.cfg.full_block_px),
                                faces=len(self.faces.tracks), regions=len(regions),
                                blurred_share=1.0, whole=True, whole_reason="first-sweep")
        found = scanner.scan(image, held, regions)
        self.faces.update(found[:, :4])
        face_boxes = self.faces.boxes()
        if self.blur_motion:
            self.moving.update(regions)
            move_boxes = self.moving.boxes()
        else:  # mode "faces": motion guides the face search and the close-up guard only
            move_boxes = np.zeros((0, 4), np.float32)

        area = float(w * h)

        def largest(boxes: Iterable[npt.NDArray[np.float32]]) -> float:
            return max((float((b[2] - b[0]) * (b[3] - b[1])) for b in boxes), default=0.0)

        if (largest(found[:, :4]) > self.cfg.closeup_share * area
                or largest(regions) > self.cfg.closeup_motion_share * area):
            self._closeup_left = self.cfg.closeup_hold_frames
        if self._closeup_left > 0:
            self._closeup_left -= 1
            return FilterResult(pixelate_whole(image, self.cfg.full_block_px),
                                faces=len(self.faces.tracks), regions=len(regions),
                                blurred_share=1.0,
                                whole=True, whole_reason="closeup")

        mask = np.zeros((h, w), np.uint8)
        boxes = np.concatenate([face_boxes, move_boxes]).round().astype(np.int32)
        boxes[:, 0:4:2] = boxes[:, 0:4:2].clip(0, w)
        boxes[:, 1:4:2] = boxes[:, 1:4:2].clip(0, h)
        for x0, y0, x1, y1 in boxes:
            if x1 > x0 and y1 > y0:
                mask[y0:y1, x0:x1] = 255
        if self.zones:
            cv2.bitwise_or(mask, self.zones.mask(w, h), dst=mask)
        covered = cv2.countNonZero(mask)
        if covered:
            block = self.cfg.block_px
            # Pixelate only the bounding rectangle of the mask, on the frame's block grid.
            bx, by, bw, bh = cv2.boundingRect(mask)
            x0, y0 = bx - bx % block, by - by % block
            x1 = min(w, -(-(bx + bw) // block) * block)
            y1 = min(h, -(-(by + bh) // block) * block)
            pix = pixelate_whole(np.ascontiguousarray(image[y0:y1, x0:x1]), block)
            for bx0, by0, bx1, by1 in boxes:  # rectangles: plain slice copies, fast
                if bx1 > bx0 and by1 > by0:
                    image[by0:by1, bx0:bx1] = pix[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0]
            if self.zones:
                region = np.ascontiguousarray(image[y0:y1, x0:x1])
                cv2.copyTo(pix, self.zones.mask(w, h)[y0:y1, x0:x1], region)
                image[y0:y1, x0:x1] = region
            # Large faces get coarser blocks: never more than box_blocks across.
            for x0, y0, x1, y1 in boxes[: len(face_boxes)]:
                big = max(x1 - x0, y1 - y0) / self.cfg.box_blocks
                if big > block:
                    pixelate_box(image, int(x0), int(y0), int(x1), int(y1), int(big))
        return FilterResult(image, faces=len(self.faces.tracks), regions=len(regions),
                            blurred_share=covered / area)

    def close(self) -> None:
        self._closed = True
