"""People in motion: MOG2 background subtraction at low resolution.

At 320 pixels wide MOG2 costs ≈ 1 ms a frame. The foreground mask is cleaned (opening drops
noise, closing and dilation join a person's limbs into one blob) and each blob becomes a box
in frame pixels (for the face search and the close-up guard); the cleaned mask itself is
what gets blurred. People who stand still fade into the background after ``history`` frames;
the stopped-people layer (``still``) and the face layer cover them.

Low contrast (fog, dusk) is stretched before the background model sees it: the picture's
1st..99th brightness percentiles when the model starts are mapped to the full range (gain
at most ``MAX_GAIN``; pictures with a range of more than 140 levels are left alone), and
held. Without it a
figure in fog differs from the street behind it by less than MOG2's threshold. The
stretched small picture (``small``, ``grey``) is what the other layers look at, too.

Below a floor no stretch helps (white-out fog at dusk: a whole picture within ≈ 10 grey
levels, a figure within 2 or 3 of the street): ``contrast`` tells the filter, which then
pixelates the picture whole.

A second cue does not learn at all: in low contrast, the difference to the picture
``DIFF_LAG`` frames ago, above a threshold set by the picture's own noise. MOG2 misses faint
figures in low contrast; a moving face's edges still differ from where they were a few
frames before. It is used there only: elsewhere MOG2 alone is as safe, and the difference's
trail behind every walker would blur more street.

MOG2's own learning rate is fast at first (1 / 2n after n frames). Here that holds only
while the first sweep pixelates the whole picture anyway (``slow`` False: who stood where
when the model began is gone from it sooner); once the picture shows, the model learns no
faster than 1 / ``FASTEST``: learning fast, it takes a person who stops in the first seconds
into the background before the stopped-people layer (``still``) has seen them stand. In a
stretched picture the model starts from a variance stretched with it (its noise is). The
foreground MOG2 itself gives, before cleaning (``new``), is what that layer reads.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from .pixelate import Image, shrink
from .tracker import Rects

MAX_GAIN = 4.0
MIN_GAIN = 1.8  # a picture with more than 255 / MIN_GAIN levels of range is left as it is
DIFF_LAG = 3  # in low contrast: faint edges take a few frames to differ enough
FASTEST = 120  # frames: once the picture shows, the model learns no faster than 1 / FASTEST


class MotionDetector:
    def __init__(self, *, width: int = 320, history: int = 300, var_threshold: float = 25.0,
                 min_area: float = 0.0005) -> None:
        self.width = width
        self.min_area = min_area  # share of the frame a blob needs to count
        self.history, self.var_threshold = history, var_threshold
        self.mog = self._model()
        self.open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
        self.frames = 0
        # The cleaned foreground of the last frame (``width`` pixels wide), None before the
        # model exists: where the people in motion are, pixel by pixel.
        self.foreground: npt.NDArray[np.uint8] | None = None
        self.small: Image | None = None  # the stretched small picture of the last frame
        # The background model's own foreground of the last frame, not cleaned (what is new
        # to it, pixel by pixel; no frame differences).
        self.new: npt.NDArray[np.uint8] | None = None
        self.slow = True  # learn no faster than 1 / FASTEST (else at MOG2's own pace)
        self.grey: npt.NDArray[np.uint8] | None = None
        self.raw: npt.NDArray[np.uint8] | None = None  # the small grey picture as it came
        self._range: tuple[float, float] | None = None
        self.drifted = False  # the picture's range left the stretch: restart, please
        self._recent: list[npt.NDArray[np.uint8]] = []  # the last DIFF_LAG grey pictures
        # Grey levels between the 1st and 99th percentile of the last picture.
        self.contrast = 255.0

    def _model(self) -> cv2.BackgroundSubtractorMOG2:
        return cv2.createBackgroundSubtractorMOG2(history=self.history,
                                                  varThreshold=self.var_threshold,
                                                  detectShadows=False)

    def reset(self) -> None:
        """Forget the background: the picture changed as a whole."""
        self.mog = self._model()
        self.frames = 0
        self.foreground = None
        self._range = None
        self.drifted = False
        self._recent = []
        self.new = None

    def _stretch(self, small: Image, grey: npt.NDArray[np.uint8]
                 ) -> tuple[Image, npt.NDArray[np.uint8], float]:
        """The small picture and its grey, stretched; and the gain. The stretch is set when
        the model (re)starts and then held: a stretch that followed the picture would move
        every pixel a little, and the background model would call the whole frame moving.
        When the picture's range has drifted far from it (dusk), ``drifted`` asks for a
        restart."""
        if self._range is None or self.frames % 15 == 0:
            lo, hi = (float(v) for v in np.percentile(grey[::2, ::2], (1, 99)))
            if self._range is None:
                self._range = (lo, hi)
            else:
                k0 = 255.0 / max(1.0, self._range[1] - self._range[0])
                k1 = 255.0 / max(1.0, hi - lo)
                far = max(k0, k1) / min(k0, k1) > 1.4 and max(k0, k1) > MIN_GAIN
                self.drifted = far or abs(lo - self._range[0]) > 40
        lo, hi = self._range
        k = min(MAX_GAIN, 255.0 / max(1.0, hi - lo))
        if k < MIN_GAIN:
            return small, grey, 1.0
        return (np.asarray(cv2.convertScaleAbs(small, alpha=k, beta=-lo * k), np.uint8),
                np.asarray(cv2.convertScaleAbs(grey, alpha=k, beta=-lo * k), np.uint8), k)

    def detect(self, image: Image) -> Rects:
        """Boxes (x0, y0, x1, y1) of moving regions, in pixels of ``image``."""
        h, w = image.shape[:2]
        sw = min(self.width, w)
        sh = max(1, round(h * sw / w))
        small = shrink(image, sw, sh)
        raw = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), np.uint8)
        lo, hi = (float(v) for v in np.percentile(raw[::3, ::3], (1, 99)))
        self.contrast = hi - lo
        self.raw = raw  # (before the stretch)
        small, self.grey, gain = self._stretch(small, raw)
        self.small = small
        if self.frames == 0 and gain > 1.0:
            # The stretch stretches the sensor noise too: the model starts from a variance
            # stretched with it (or, learning no faster than 1 / FASTEST, noise fills the
            # foreground for seconds) and narrows it to what the noise is as it learns.
            g2 = gain * gain
            self.mog.setVarInit(15.0 * g2)
            self.mog.setVarMax(max(75.0, 15.0 * g2))
        self.frames += 1
        rate = 1.0 / min(max(2 * self.frames, FASTEST if self.slow else 1), self.history)
        fg = self.mog.apply(small, learningRate=rate if self.frames > 1 else -1.0)
        self.new = np.asarray(fg, np.uint8)  # new to the model: before cleaning and cues
        # Differences of the unstretched picture (the stretch drifts), against a threshold
        # of 10 levels of the stretched one.
        if (gain > 1.0 and len(self._recent) >= DIFF_LAG
                and self._recent[0].shape == raw.shape):
            diff = cv2.absdiff(raw, self._recent[0])
            noise = float(np.percentile(diff[::3, ::3], 50))
            level = max(3.0, 10.0 / gain, 4.0 * noise)
            _, moved = cv2.threshold(diff, level, 255, cv2.THRESH_BINARY)
            fg = cv2.bitwise_or(fg, moved)
        self._recent = [*self._recent[-(DIFF_LAG - 1):], raw] if DIFF_LAG > 1 else [raw]
        if self.frames <= 2:  # no model yet: MOG2 calls everything foreground
            self.foreground = None
            return np.zeros((0, 4), np.float32)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self.open)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self.close)
        fg = cv2.dilate(fg, self.open)
        self.foreground = np.asarray(fg, np.uint8)
        # Outer contours, not connected components: same blobs, ≈ 30× cheaper here.
        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_px = self.min_area * sw * sh
        rects = [r for r in (cv2.boundingRect(c) for c in contours) if r[2] * r[3] >= min_px]
        if not rects:
            return np.zeros((0, 4), np.float32)
        r = np.asarray(rects, np.float32)
        kx, ky = w / sw, h / sh
        return np.stack([r[:, 0] * kx, r[:, 1] * ky, (r[:, 0] + r[:, 2]) * kx,
                         (r[:, 1] + r[:, 3]) * ky], axis=1).astype(np.float32)


def dark_and_flat(grey: npt.NDArray[np.uint8], *, dark: float, sd: float, window: int
                  ) -> npt.NDArray[np.uint8]:
    """Where ``grey`` is darker than ``dark`` on average and varies by less than ``sd`` grey
    levels (standard deviation) within ``window`` pixels around: 255 there, else 0."""
    g = grey.astype(np.float32)
    k = (window, window)
    m = cv2.boxFilter(g, -1, k, borderType=cv2.BORDER_REFLECT)
    m2 = cv2.boxFilter(g * g, -1, k, borderType=cv2.BORDER_REFLECT)
    flat = (m < dark) & (m2 - m * m < sd * sd)
    return flat.astype(np.uint8) * np.uint8(255)
