"""A synthetic street scene with real faces, for tests, the demo and benchmarks.

``TestScene(width, height, fps, seed).render(t)`` returns a BGR frame for UNIX time ``t``:
a static street (sky, buildings with windows, trees, pavement), several people walking
across at different speeds and distances whose heads are real face photos (24–110 px high
at 720p by default, ``max_head`` up to 200; from scikit-image: see ``faces``), and an
on-screen clock. Everything is pre-rendered once (background, sprites with masks, four gait
phases); a frame costs one background copy and one masked ``cv2.copyTo`` per person: ≈ 1 ms
at 720p.

``render`` is pure in ``t`` (same ``t``, same picture) and thread-safe, so it can run in a
worker thread. The optional ``marker`` draws the capture time for latency measurement:
``"barcode"`` (``marker.draw_marker``), ``"flash"`` (whole white frames, ``marker.flash_on``)
or ``"both"``.

``TestScene.faces(t)`` lists where the faces are, for recall checks in privacy tests, and
``people_mask(t)`` where the people are (the least a filter that blurs people must blur).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from . import marker as mk
from .faces import face_sprite

Image = npt.NDArray[np.uint8]
MarkerMode = Literal["barcode", "flash", "both"]
MARKER_MODES: tuple[str, ...] = ("barcode", "flash", "both")

_GAIT_PHASES = 4
_STRIDE_HZ = 1.6


@dataclass(frozen=True)
class _Person:
    """One walker: pre-rendered gait sprites (facing right and left) and its motion."""

    frames: tuple[tuple[Image, Image], ...]  # (sprite BGR, mask u8) per gait phase
    face_box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the face inside the sprite
    top: int  # y of the sprite's top row in the frame
    speed: float  # px/s, sign is the direction
    phase: float  # px offset at t = 0


@dataclass(frozen=True)
class FaceBox:
    """A face visible in a rendered frame, in frame pixels (may touch the frame edge)."""

    x0: int
    y0: int
    x1: int
    y1: int


class TestScene:
    """Renders the synthetic street; see the module docstring."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        seed: int = 0,
        *,
        people: int = 7,
        max_head: int = 110,
        marker: MarkerMode | None = None,
        marker_block: int = 16,
        label: str = "",
    ) -> None:
        if width < 64 or height < 64:
            raise ValueError("scene must be at least 64×64")
        if marker is not None and marker not in MARKER_MODES:
            raise ValueError(f"marker must be one of {MARKER_MODES}")
        self.width = width
        self.height = height
        self.fps = fps
        self.seed = seed
        self.marker = marker
        self.marker_block = marker_block
        self.label = label
        if marker in ("barcode", "both"):
            mk.marker_height(width, marker_block)  # validates the width
        self._scale = height / 720.0
        rng = np.random.default_rng(seed)
        self._background = self._make_background(rng)
        # Head sizes spread geometrically over 24..max_head px (at 720p): a street seen from
        # across the road (110 px); 200 px is someone walking close past the lens, whom the
        # privacy step's close-up guard answers by blurring the whole frame. The sharp
        # astronaut photo (person 0) gets the biggest, the 25 px LFW crops the rest, shuffled
        # by the seed. Painted far (small) to near (big) so that near people occlude far ones.
        sizes = np.geomspace(max_head, 24, max(1, people))
        sizes[1:] = sizes[1:][rng.permutation(len(sizes) - 1)]
        walkers = [self._make_person(rng, i, float(sizes[i])) for i in range(people)]
        self._people = sorted(walkers, key=lambda p: p.frames[0][0].shape[1])

    # ------------------------------------------------------------------ rendering

    def render(self, t: float) -> Image:
        """The frame at UNIX time ``t`` (seconds) as a new BGR ``uint8`` array."""
        if self.marker in ("flash", "both") and mk.flash_on(t):
            frame = np.full((self.height, self.width, 3), 255, np.uint8)
        else:
            frame = self._background.copy()
            for person in self._people:
                self._paste(frame, person, t)
            self._draw_clock(frame, t)
        if self.marker in ("barcode", "both"):
            mk.draw_marker(frame, t, self.marker_block)
        return frame

    def faces(self, t: float) -> list[FaceBox]:
        """Faces visible at time ``t`` (ignoring flash frames), in frame pixels."""
        out: list[FaceBox] = []
        for person in self._people:
            x = self._x(person, t)
            fx0, fy0, fx1, fy1 = person.face_box
            x0, y0 = max(0, x + fx0), max(0, person.top + fy0)
            x1, y1 = min(self.width, x + fx1), min(self.height, person.top + fy1)
            if x1 > x0 and y1 > y0:
                out.append(FaceBox(x0, y0, x1, y1))
        return out

    def people_mask(self, t: float) -> npt.NDArray[np.bool_]:
        """Where the people are at time ``t``: True on every pixel of a walker."""
        mask = np.zeros((self.height, self.width), np.uint8)
        for person in self._people:
            self._paste(mask, person, t, mask_only=True)
        return mask > 0

    def _x(self, person: _Person, t: float) -> int:
        sw = int(person.frames[0][0].shape[1])
        span = self.width + sw
        return int((person.phase + person.speed * t) % span) - sw

    def _paste(self, frame: Image, person: _Person, t: float, *, mask_only: bool = False) -> None:
        gait = int(t * _STRIDE_HZ * _GAIT_PHASES) % _GAIT_PHASES
        if person.speed < 0:
            gait += _GAIT_PHASES  # mirrored sprites follow the right-facing ones
        sprite, mask = person.frames[gait]
        sh, sw = sprite.shape[:2]
        x, y = self._x(person, t), person.top
        fx0, fy0 = max(0, x), max(0, y)
        fx1, fy1 = min(self.width, x + sw), min(self.height, y + sh)
        if fx1 <= fx0 or fy1 <= fy0:
            return
        sx0, sy0 = fx0 - x, fy0 - y
        sx1, sy1 = sx0 + (fx1 - fx0), sy0 + (fy1 - fy0)
        if mask_only:
            frame[fy0:fy1, fx0:fx1] |= mask[sy0:sy1, sx0:sx1]
            return
        cv2.copyTo(sprite[sy0:sy1, sx0:sx1], mask[sy0:sy1, sx0:sx1], frame[fy0:fy1, fx0:fx1])

    def _draw_clock(self, frame: Image, t: float) -> None:
        lt = time.localtime(t)
        text = time.strftime("%Y-%m-%d %H:%M:%S", lt) + f".{int((t % 1.0) * 10)}"
        if self.label:
            text = f"{self.label}  {text}"
        s = max(0.4, self._scale)
        thick = max(1, round(2 * s))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, s, thick)
        x, y = round(16 * s), self.height - round(16 * s)
        cv2.rectangle(frame, (x - 6, y - th - 8), (x + tw + 6, y + base + 4), (20, 20, 20), -1)
        cv2.putText(frame, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, s, (240, 240, 240), thick,
                    cv2.LINE_AA)

    # ------------------------------------------------------------------ pre-rendering

    def _make_background(self, rng: np.random.Generator) -> Image:
        w, h = self.width, self.height
        img = np.zeros((h, w, 3), np.uint8)
        horizon = int(h * 0.45)
        # Sky: a vertical gradient.
        ramp = np.linspace(0.0, 1.0, horizon)[:, None]
        sky = (np.array([235, 200, 150]) * (1 - ramp) + np.array([210, 190, 170]) * ramp)
        img[:horizon] = sky[:, None, :].astype(np.uint8)
        # Buildings with windows.
        x = 0
        while x < w:
            bw = int(rng.integers(w // 10, w // 4))
            top = int(rng.integers(int(h * 0.08), int(h * 0.3)))
            colour = tuple(int(c) for c in rng.integers(60, 170, 3))
            cv2.rectangle(img, (x, top), (x + bw, horizon), colour, -1)
            win = max(6, round(18 * self._scale))
            lit = rng.random((horizon // (win * 2) + 1, bw // (win * 2) + 1)) < 0.35
            for r, wy in enumerate(range(top + win, horizon - win, win * 2)):
                for c, wx in enumerate(range(x + win // 2, x + bw - win, win * 2)):
                    shade = (120, 200, 230) if lit[r, c] else (70, 60, 50)
                    cv2.rectangle(img, (wx, wy), (wx + win, wy + win), shade, -1)
            x += bw + int(rng.integers(0, w // 40 + 1))
        # Pavement: a grey gradient with perspective joints.
        ramp = np.linspace(0.0, 1.0, h - horizon)[:, None]
        ground = np.array([120, 125, 128]) * (1 - ramp) + np.array([80, 85, 90]) * ramp
        img[horizon:] = ground[:, None, :].astype(np.uint8)
        vx = w // 2
        for k in range(-12, 13):
            cv2.line(img, (vx + k * w // 40, horizon), (vx + k * w // 5, h), (95, 98, 100), 2)
        for k in range(1, 8):
            y = horizon + int((h - horizon) * (k / 8) ** 1.6)
            cv2.line(img, (0, y), (w, y), (98, 100, 104), 1)
        # Trees.
        for _ in range(4):
            tx = int(rng.integers(0, w))
            th = int(h * rng.uniform(0.18, 0.3))
            trunk = (40, 60, 80)
            cv2.rectangle(img, (tx - 5, horizon - th // 2), (tx + 5, horizon + 10), trunk, -1)
            cv2.circle(img, (tx, horizon - th // 2), th // 3, (50, 120, 60), -1)
        return img

    def _make_person(self, rng: np.random.Generator, index: int, size: float) -> _Person:
        head = max(8, round(size * self._scale))
        face = face_sprite(index % 101, head)
        fh, fw = face.shape[:2]
        sw = max(fw + 4, round(2.4 * head))
        top = max(round(40 * self._scale), round((340 - 1.1 * head / self._scale) * self._scale))
        sh = min(7 * head, self.height - top)
        clothes = tuple(int(c) for c in rng.integers(30, 220, 3))
        trousers = tuple(int(c) for c in rng.integers(20, 110, 3))
        right: list[tuple[Image, Image]] = []
        fx0 = (sw - fw) // 2
        for phase in range(_GAIT_PHASES):
            swing = math.sin(2 * math.pi * phase / _GAIT_PHASES)
            sprite = np.zeros((sh, sw, 3), np.uint8)
            mask = np.zeros((sh, sw), np.uint8)
            for canvas, c1, c2 in ((sprite, clothes, trousers), (mask, 255, 255)):
                self._draw_body(canvas, head, sw, swing, c1, c2)
            face_mask = np.zeros((fh, fw), np.uint8)
            cv2.ellipse(face_mask, (fw // 2, fh // 2), (round(fw * 0.56), round(fh * 0.56)),
                        0, 0, 360, 255, -1)
            rows = min(fh, sh)
            cv2.copyTo(face[:rows], face_mask[:rows], sprite[:rows, fx0 : fx0 + fw])
            mask[:rows, fx0 : fx0 + fw] |= face_mask[:rows]
            right.append((sprite, mask))
        left = [(np.ascontiguousarray(s[:, ::-1]), np.ascontiguousarray(m[:, ::-1]))
                for s, m in right]
        speed = float(rng.uniform(40, 90)) * (head / 24) ** 0.6 * self._scale
        if rng.random() < 0.5:
            speed = -speed
        lx0 = sw - fx0 - fw if speed < 0 else fx0
        return _Person(
            frames=tuple(right + left),
            face_box=(lx0, 0, lx0 + fw, min(fh, sh)),
            top=top,
            speed=speed,
            phase=float(rng.uniform(0, self.width + sw)),
        )

    @staticmethod
    def _draw_body(
        canvas: Image,
        head: int,
        sw: int,
        swing: float,
        clothes: tuple[int, ...] | int,
        trousers: tuple[int, ...] | int,
    ) -> None:
        cx = sw // 2
        thick = max(2, head // 3)
        c1 = clothes if isinstance(clothes, int) else tuple(clothes)
        c2 = trousers if isinstance(trousers, int) else tuple(trousers)
        # Neck and torso.
        cv2.rectangle(canvas, (cx - head // 6, int(head * 0.9)), (cx + head // 6, int(head * 1.2)),
                      c1, -1)
        cv2.ellipse(canvas, (cx, int(head * 1.6)), (int(head * 0.9), int(head * 0.5)),
                    0, 180, 360, c1, -1)
        cv2.rectangle(canvas, (cx - int(head * 0.9), int(head * 1.6)),
                      (cx + int(head * 0.8), int(head * 3.8)), c1, -1)
        # Arms swing opposite to the legs.
        for side in (-1, 1):
            sx = cx + side * int(head * 0.9)
            ex = sx + int(swing * side * head * 0.6)
            cv2.line(canvas, (sx, int(head * 1.5)), (ex, int(head * 3.6)), c1, thick)
        # Legs.
        hip = int(head * 3.8)
        for side in (-1, 1):
            foot = cx + int(side * swing * head * 0.9)
            cv2.line(canvas, (cx + side * head // 3, hip), (foot, int(head * 6.8)), c2,
                     max(2, int(head * 0.45)))
