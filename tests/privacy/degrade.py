"""Degraded scenes: what an outdoor camera really delivers, for the privacy tests and
``benchmarks/degraded.py``.

People (a real face from ``scenes.faces()`` on a plain body) walk or stand in a real
photograph; then the picture is degraded the way a cheap outdoor camera degrades it. Every
condition can be used alone or combined (``Clip(conditions=("haze", "rain"))``):

* ``haze``: contrast ×0.2–0.4 towards a bright airlight (fog);
* ``lowlight``: dusk: gamma, gain and sensor noise;
* ``backlight``: a bright background and the people in shadow (×0.3);
* ``motionblur``: walkers at 4–10 px a frame, blurred along their walking direction;
* ``rain``: streaks, new every frame;
* ``tilt``: heads tilted in the image plane by up to 70°;
* ``occlusion``: a third of the face covered by a hand, a scarf or a bar;
* ``h264``: a cheap IP camera's H.264 at 1.5 Mbit/s, decoded before the filter sees it;
* ``exposure``: sudden exposure jumps (clouds, auto-exposure) every 1.5 s;
* ``edge``: everybody walks in from outside the frame;
* ``stopped``: people walk in and stop for good, with faces of 20–28 px (too small for the
  detector to be sure of).

and the changes of the whole picture: ``cut`` (a scene cut to another place with people
already standing in it), ``moved`` (the camera moved: the picture shifts and tilts).

Ground truth per frame: every person's face box and head-and-torso box (in frame pixels,
axis-aligned; a tilted face's box is the upright box around the same centre).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np
import numpy.typing as npt
from scenes import background, faces

Image = npt.NDArray[np.uint8]

CONDITIONS = ("clean", "haze", "lowlight", "backlight", "motionblur", "rain", "tilt",
              "occlusion", "h264", "exposure", "edge", "stopped", "cut", "moved")
# The weather and camera combined: a foggy dusk through a cheap camera.
COMBINED = {
    "fog+dusk": ("haze", "lowlight", "rain", "h264"),
    "all": ("haze", "lowlight", "motionblur", "rain", "tilt", "occlusion", "h264",
            "exposure", "edge"),
}
FACE_PX = (20, 24, 32, 48, 64, 96, 120)


@dataclass
class Person:
    sprite: Image  # BGR, face on top of a body
    alpha: npt.NDArray[np.float32]  # 0..1 coverage of the sprite
    face: tuple[int, int, int, int]  # upright face box inside the sprite
    torso_bottom: int  # y of the torso's bottom inside the sprite
    x: float  # sprite top-left in the frame
    y: float
    vx: float
    vy: float
    stop_at: int = -1  # frame at which the person stops for good (-1: never)
    blur: int = 0  # motion blur length (px)


@dataclass(frozen=True)
class Truth:
    face: tuple[float, float, float, float]  # x0, y0, x1, y1 in the frame (may be cut)
    body: tuple[float, float, float, float]  # head and torso
    px: int  # face width in pixels
    stopped: bool  # walked in and has stopped
    still: bool  # standing since the clip began (never walked)
    whole: bool  # the face is entirely inside the frame
    shown: float = 1.0  # the share of the face box not covered by people in front of it


def _body(rng: np.random.Generator, face_img: Image, fbox: tuple[int, int, int, int],
          tilt: float, occlusion: str) -> tuple[Image, npt.NDArray[np.float32],
                                                tuple[int, int, int, int], int]:
    """A person sprite: the face crop (tilted, occluded) above a textured torso and legs."""
    fx0, fy0, fx1, fy1 = fbox
    fw, fh = fx1 - fx0, fy1 - fy0
    face_img = face_img.copy()
    if occlusion:
        third = max(1, fh // 3)
        if occlusion == "scarf":
            colour = tuple(int(c) for c in rng.integers(30, 200, 3))
            face_img[fy1 - third:fy1, fx0:fx1] = colour
        elif occlusion == "bar":
            x = int(rng.integers(fx0, max(fx0 + 1, fx1 - fw // 3)))
            face_img[fy0:fy1, x:x + max(1, fw // 3)] = (40, 40, 40)
        else:  # a hand over a third of the face
            cx, cy = fx0 + int(rng.integers(fw // 4, 3 * fw // 4 + 1)), fy0 + 2 * fh // 3
            cv2.ellipse(face_img, (cx, cy), (max(1, fw // 4), max(1, fh // 5)), 20, 0, 360,
                        (120, 150, 200), -1)
    if tilt:
        ih, iw = face_img.shape[:2]
        m = cv2.getRotationMatrix2D(((fx0 + fx1) / 2, (fy0 + fy1) / 2), tilt, 1.0)
        face_img = cv2.warpAffine(face_img, m, (iw, ih), borderMode=cv2.BORDER_REPLICATE)
    ih, iw = face_img.shape[:2]
    bw = max(iw, round(1.8 * fw))
    torso = round(2.6 * fh)
    legs = round(2.6 * fh)
    h = fy1 + torso + legs
    sprite = np.zeros((h, bw, 3), np.uint8)
    alpha = np.zeros((h, bw), np.float32)
    ox = (bw - iw) // 2
    sprite[:ih, ox:ox + iw] = face_img
    head = np.zeros((ih, iw), np.float32)
    cv2.ellipse(head, (iw // 2, ih // 2), (max(1, round(iw * 0.55)), max(1, round(ih * 0.56))),
                0, 0, 360, 1.0, -1)
    head[fy0:fy1, fx0:fx1] = 1.0
    alpha[:ih, ox:ox + iw] = head
    colour = rng.integers(30, 220, 3)
    stripes = (np.arange(torso)[:, None] // max(2, fh // 6)) % 2
    tex = colour[None, None, :] * (0.75 + 0.25 * stripes[..., None])
    tw = round(1.6 * fw)
    tx = (bw - tw) // 2
    sprite[fy1:fy1 + torso, tx:tx + tw] = np.clip(tex, 0, 255).astype(np.uint8)
    alpha[fy1:fy1 + torso, tx:tx + tw] = 1.0
    trousers = tuple(int(c) for c in rng.integers(20, 110, 3))
    lw = max(2, tw // 3)
    for lx in (tx + tw // 8, tx + tw - tw // 8 - lw):
        sprite[fy1 + torso:h, lx:lx + lw] = trousers
        alpha[fy1 + torso:h, lx:lx + lw] = 1.0
    return sprite, alpha, (ox + fx0, fy0, ox + fx1, fy1), fy1 + torso


@dataclass
class Clip:
    """One clip of ``frames`` frames at ``w``×``h`` under ``conditions``; iterate it for
    (frame, truths)."""

    seed: int
    conditions: tuple[str, ...] = ()
    w: int = 1280
    h: int = 720
    frames: int = 90
    people: int = 6
    sizes: tuple[int, ...] = FACE_PX
    cut_at: int = 45  # ``cut`` / ``moved``: the frame the picture changes
    persons: list[Person] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.bg = background(self.w, self.h, self.seed % 3)
        self.persons = [self._person(i) for i in range(self.people)]

    def _person(self, i: int, *, standing: bool = False) -> Person:
        rng, c = self.rng, self.conditions
        pool = faces()
        stopped = "stopped" in c
        if stopped:
            size = int(rng.choice((20, 24, 28)))
        else:
            size = int(self.sizes[(self.seed + 3 * i) % len(self.sizes)])
        size = max(12, round(size * self.h / 720))
        face = pool[int(rng.integers(len(pool)))]
        img, fbox = face.scaled(size)
        tilt = float(rng.uniform(-70, 70)) if "tilt" in c else 0.0
        occ = str(rng.choice(("hand", "scarf", "bar"))) if "occlusion" in c else ""
        sprite, alpha, fb, torso = _body(rng, img, fbox, tilt, occ)
        sh, sw = sprite.shape[:2]
        if "motionblur" in c:
            speed = float(rng.uniform(4, 10))
        elif standing:
            speed = 0.0
        else:
            speed = float(rng.uniform(0, 10)) if i % 3 else 0.0
        if stopped or "edge" in c:
            speed = max(speed, float(rng.uniform(2, 6)))
        direction = 1.0 if rng.random() < 0.5 else -1.0
        vx = direction * speed
        vy = float(rng.uniform(-0.3, 0.3)) * speed
        y = float(rng.uniform(0, max(1, self.h - 0.6 * sh)))
        x = float(rng.uniform(0, max(1, self.w - sw)))
        stop_at = -1
        if stopped or "edge" in c:
            # From outside the frame, the side it walks in from.
            x = -sw + 1.0 if vx > 0 else self.w - 1.0
            if stopped:
                # Walks in for half a second to a second, then stands for good.
                stop_at = int(rng.integers(15, 40))
        blur = round(speed) if "motionblur" in c and speed >= 2 else 0
        return Person(sprite, alpha, fb, torso, x, y, vx, vy, stop_at, blur)

    def __iter__(self) -> Iterator[tuple[Image, list[Truth]]]:
        enc = _H264(self.w, self.h) if "h264" in self.conditions else None
        for i in range(self.frames):
            if i == self.cut_at and "cut" in self.conditions:
                self.bg = background(self.w, self.h, self.seed % 3 + 1)
                self.persons = [self._person(j, standing=True) for j in range(self.people)]
            frame, truths = self._render(i)
            if i >= self.cut_at and "moved" in self.conditions:
                m = cv2.getRotationMatrix2D((self.w / 2, self.h / 2), 3.0, 1.05)
                m[0, 2] += 0.06 * self.w
                frame = cv2.warpAffine(frame, m, (self.w, self.h),
                                       borderMode=cv2.BORDER_REFLECT)
                moved = (_moved(t, m, self.w, self.h) for t in truths)
                truths = [t for t in moved if t.face[2] - t.face[0] >= 4
                          and t.face[3] - t.face[1] >= 4]  # (not moved out of the picture)
            frame = self._degrade(frame, i)
            if enc is not None:
                frame = enc.roundtrip(frame)
            yield frame, truths

    def _render(self, i: int) -> tuple[Image, list[Truth]]:
        c = self.conditions
        img = self.bg.astype(np.float32)
        if "backlight" in c:
            img = np.minimum(255.0, img * 0.6 + 150.0)  # bright sky behind them
        truths = []
        # Who is on top where: the share of a face that someone in front of it covers.
        top = np.full((self.h, self.w), -1, np.int16)
        who: list[int] = []  # the person of each truth
        for j, p in enumerate(self.persons):
            moving = p.stop_at < 0 or i < p.stop_at
            spr = p.sprite.astype(np.float32)
            if "backlight" in c:
                spr *= 0.3
            a = p.alpha
            if p.blur and moving:
                k = np.zeros((p.blur, p.blur), np.float32)
                k[p.blur // 2, :] = 1.0 / p.blur
                spr = cv2.filter2D(spr * a[..., None], -1, k)
                a = cv2.filter2D(a, -1, k)
                spr = spr / np.maximum(a, 1e-3)[..., None]
            _composite(img, spr, a, int(p.x), int(p.y))
            _mark(top, a, int(p.x), int(p.y), j)
            fx0, fy0, fx1, fy1 = p.face
            x, y = int(p.x), int(p.y)
            box = (x + fx0, y + fy0, x + fx1, y + fy1)
            cut = (max(0, box[0]), max(0, box[1]), min(self.w, box[2]), min(self.h, box[3]))
            body = (max(0, x + fx0 - (fx1 - fx0) // 2), max(0, y + fy0),
                    min(self.w, x + fx1 + (fx1 - fx0) // 2), min(self.h, y + p.torso_bottom))
            if cut[2] > cut[0] and cut[3] > cut[1]:
                truths.append(Truth(cut, body, fx1 - fx0, not moving, p.vx == 0,
                                    cut == box))
                who.append(j)
            if moving:
                p.x += p.vx
                p.y += p.vy
                sh, sw = p.sprite.shape[:2]
                edge_entry = "edge" in c or "stopped" in c
                if not edge_entry and not 0 <= p.x <= self.w - sw:
                    p.vx = -p.vx
                if not 0 <= p.y <= self.h - 0.6 * sh:
                    p.vy = -p.vy
        truths = [_shown(t, top, j) for j, t in zip(who, truths, strict=True)]
        return np.clip(img, 0, 255).astype(np.uint8), truths

    def _degrade(self, frame: Image, i: int) -> Image:
        c = self.conditions
        if not set(c) & {"haze", "lowlight", "rain", "exposure"}:
            return frame
        img = frame.astype(np.float32)
        if "haze" in c:
            k = 0.2 + 0.2 * (self.seed % 3) / 2  # contrast 0.2, 0.3, 0.4
            img = img * k + 210.0 * (1 - k)
        if "exposure" in c:
            gain = (1.0, 1.8, 0.55)[(i // 45) % 3]
            img = img * gain
        if "lowlight" in c:
            img = 255.0 * (np.clip(img, 0, 255) / 255.0) ** 2.0 * 0.45
            noise = self.rng.normal(0, 6.0, img.shape[:2]).astype(np.float32)
            img += noise[..., None]
        if "rain" in c:
            streaks = np.zeros(img.shape[:2], np.float32)
            n = self.w * self.h // 2500
            xs = self.rng.integers(0, self.w, n)
            ys = self.rng.integers(0, self.h, n)
            for x, y in zip(xs, ys, strict=True):
                ln = int(self.rng.integers(10, 30))
                cv2.line(streaks, (int(x), int(y)), (int(x) + ln // 5, int(y) + ln), 1.0, 1)
            streaks = cv2.GaussianBlur(streaks, (3, 3), 0)
            img = img * (1 - 0.35 * streaks[..., None]) + 220.0 * 0.35 * streaks[..., None]
        return np.clip(img, 0, 255).astype(np.uint8)


def _mark(top: npt.NDArray[np.int16], a: npt.NDArray[np.float32], x: int, y: int,
          k: int) -> None:
    h, w = top.shape
    sh, sw = a.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + sw), min(h, y + sh)
    if x1 > x0 and y1 > y0:
        mine = a[y0 - y:y1 - y, x0 - x:x1 - x] > 0.5
        top[y0:y1, x0:x1][mine] = k


def _shown(t: Truth, top: npt.NDArray[np.int16], k: int) -> Truth:
    x0, y0, x1, y1 = (int(v) for v in t.face)
    box = top[y0:y1, x0:x1]
    shown = float((box == k).mean()) if box.size else 0.0
    return Truth(t.face, t.body, t.px, t.stopped, t.still, t.whole, shown)


def _moved(t: Truth, m: npt.NDArray[np.float64], w: int, h: int) -> Truth:
    def tr(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        nx, ny = m @ np.array([cx, cy, 1.0])
        s = float(np.hypot(m[0, 0], m[0, 1]))
        hw, hh = (b[2] - b[0]) * s / 2, (b[3] - b[1]) * s / 2
        return (max(0.0, nx - hw), max(0.0, ny - hh), min(float(w), nx + hw),
                min(float(h), ny + hh))

    return Truth(tr(t.face), tr(t.body), round(t.px * 1.05), t.stopped, t.still, t.whole,
                 t.shown)


def _composite(img: npt.NDArray[np.float32], spr: npt.NDArray[np.float32],
               a: npt.NDArray[np.float32], x: int, y: int) -> None:
    h, w = img.shape[:2]
    sh, sw = spr.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + sw), min(h, y + sh)
    if x1 <= x0 or y1 <= y0:
        return
    s = spr[y0 - y:y1 - y, x0 - x:x1 - x]
    al = a[y0 - y:y1 - y, x0 - x:x1 - x, None]
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - al) + s * al


class _H264:
    """An IP camera's encoder (x264, 1.5 Mbit/s, GOP 2 s) and the relay's decoder."""

    def __init__(self, w: int, h: int, bitrate: int = 1_500_000) -> None:
        import av

        self.enc = av.CodecContext.create("libx264", "w")
        self.enc.width, self.enc.height = w, h
        self.enc.pix_fmt = "yuv420p"
        self.enc.bit_rate = bitrate
        self.enc.framerate = Fraction(30)
        self.enc.time_base = Fraction(1, 30)
        self.enc.gop_size = 60
        self.enc.options = {"preset": "veryfast", "tune": "zerolatency"}
        self.dec = av.CodecContext.create("h264", "r")
        self.pts = 0

    def roundtrip(self, frame: Image) -> Image:
        import av

        vf = av.VideoFrame.from_ndarray(frame, format="bgr24").reformat(format="yuv420p")
        vf.pts = self.pts
        self.pts += 1
        out = frame
        for pkt in self.enc.encode(vf):
            for d in self.dec.decode(pkt):
                out = d.to_ndarray(format="bgr24")
        return out


def band_pass(grey: npt.NDArray[np.float32], face_px: float) -> npt.NDArray[np.float32]:
    """Detail at the scale of eyes, nose and mouth of a face ``face_px`` wide: a difference
    of Gaussians between 1/24 and 1/8 of the face's width."""
    s1, s2 = max(0.5, face_px / 24), max(1.0, face_px / 8)
    out: npt.NDArray[np.float32] = (cv2.GaussianBlur(grey, (0, 0), s1)
                                    - cv2.GaussianBlur(grey, (0, 0), s2))
    return out


def detail_kept(raw: Image, out: Image, box: tuple[float, ...], face_px: float) -> float:
    """The share of ``raw``'s band-pass detail in ``box`` that ``out`` still has there: the
    projection of the output's band-pass onto the raw one, over the raw one's energy (1:
    untouched; half the box pixelated: ≈ 0.5; pixelated: ≈ 0). A projection, not an energy
    ratio: the edges between pixelation blocks are band-pass energy too, but no detail of
    the face."""
    h, w = raw.shape[:2]
    pad = int(face_px / 2)
    x0, y0 = max(0, int(box[0]) - pad), max(0, int(box[1]) - pad)
    x1, y1 = min(w, int(np.ceil(box[2])) + pad), min(h, int(np.ceil(box[3])) + pad)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    bx0, by0 = int(box[0]) - x0, int(box[1]) - y0
    bx1, by1 = int(np.ceil(box[2])) - x0, int(np.ceil(box[3])) - y0

    def bp(img: Image) -> npt.NDArray[np.float32]:
        g = cv2.cvtColor(np.ascontiguousarray(img[y0:y1, x0:x1]),
                         cv2.COLOR_BGR2GRAY).astype(np.float32)
        return band_pass(g, face_px)[by0:by1, bx0:bx1]

    a = bp(raw)
    e_raw = float((a * a).sum())
    return max(0.0, float((bp(out) * a).sum()) / e_raw) if e_raw > 1e-6 else 0.0
