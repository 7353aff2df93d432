"""The motion and stopped-people layers of mode "people" on small generated scenes: a person
who walks in and stops stays covered for minutes and is let go when they leave; passers-by
leave nothing pixelated behind; a faint walker in fog is seen.

These tests are about the layers that do not look for faces: the face detector here finds
nothing (``NoFaces``), so whatever is covered is covered by them. Frames are 640×360 (the
grid and the motion layer work the same as at 720p: 16 px cells, 320 px wide background
model) so that minutes of video run in seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from degrade import Clip, _body, _composite, detail_kept
from scenes import background, faces

from window.config import PrivacyConfig, PrivacyMode, SiteConfig
from window.privacy import layered
from window.privacy.faces import Boxes, FaceDetector, no_boxes
from window.privacy.layered import LayeredFilter
from window.privacy.pixelate import Image

W, H = 640, 360


class NoFaces:
    """A face detector that finds nothing: the face layer is not what these tests test."""

    def detect(self, image: Image, width: int = 0) -> Boxes:
        return no_boxes()


def no_faces(cfg: PrivacyConfig) -> FaceDetector:
    return NoFaces()


def people_filter(**cfg: object) -> LayeredFilter:
    return LayeredFilter(PrivacyMode.PEOPLE, PrivacyConfig(**cfg),  # type: ignore[arg-type]
                         SiteConfig(), detector=no_faces, background=False)


@dataclass
class Walker:
    sprite: npt.NDArray[np.float32]
    alpha: npt.NDArray[np.float32]
    face: tuple[int, int, int, int]
    torso: int  # y of the torso's bottom in the sprite
    x: float
    y: float

    def paste(self, img: npt.NDArray[np.float32]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Paste into ``img``; the face box and the head-and-torso box in the frame."""
        _composite(img, self.sprite, self.alpha, int(self.x), int(self.y))
        fx0, fy0, fx1, fy1 = self.face
        x, y = int(self.x), int(self.y)
        fw = fx1 - fx0
        return ((x + fx0, y + fy0, x + fx1, y + fy1),
                (x + fx0 - fw // 2, y + fy0, x + fx1 + fw // 2, y + self.torso))


def walker(seed: int, face_px: int, x: float, y: float) -> Walker:
    rng = np.random.default_rng(seed)
    img, fbox = faces()[2 + seed].scaled(face_px)
    sprite, alpha, fb, torso = _body(rng, img, fbox, 0.0, "")
    return Walker(sprite.astype(np.float32), alpha, fb, torso, x, y)


def frame(bg: Image, people: list[Walker]) -> tuple[Image, list[tuple[float, ...]]]:
    img = bg.astype(np.float32)
    bodies = [p.paste(img)[1] for p in people]
    return np.clip(img, 0, 255).astype(np.uint8), bodies


def first_sweep(flt: LayeredFilter, bg: Image, frames: int = 60) -> None:
    """The empty street for a while: the first sweep and a background model of the street."""
    for _ in range(frames):
        flt.apply(bg.copy())
    assert flt.scanner is not None and flt.scanner.swept


def test_a_person_who_stops_stays_covered_for_three_minutes_and_is_let_go_when_they_leave(
) -> None:
    """Someone walks in, waits at a bus stop for three minutes (5,400 frames at 30 fps) and
    walks on. Without the stopped-people layer the background model takes them in within
    seconds and their head and torso show."""
    bg = background(W, H, 1)
    flt = people_filter(dark_flat_sd=0.0)  # (the street given back: to the last block)
    first_sweep(flt, bg)
    p = walker(0, 24, -60.0, 150.0)
    kept: list[float] = []
    for _ in range(40):  # walks in at 4 px a frame
        p.x += 4
        flt.apply(frame(bg, [p])[0])
    for i in range(3 * 60 * 30):
        img, (body,) = frame(bg, [p])
        r = flt.apply(img.copy())
        if i % 30 == 0:
            kept.append(detail_kept(img, r.image, body, 24))
    assert max(kept) < 0.5, [round(k, 2) for k in kept if k >= 0.5][:10]
    # Walks on, out of the picture: the street is given back.
    for _ in range(150):
        p.x += 4
        r = flt.apply(frame(bg, [p])[0])
    assert p.x > W
    for _ in range(30):
        r = flt.apply(bg.copy())
    assert r.blurred_share == 0.0


def test_passers_by_leave_nothing_pixelated_behind() -> None:
    """Walkers in plain coats cross the street slowly, some of them there from the first
    frame on; once they are gone, nothing of the street stays pixelated."""
    bg = background(W, H, 2)
    flt = people_filter()
    people = [walker(k, 32, 40.0 + 150 * k, 60.0 + 40 * k) for k in range(4)]
    for p in people:
        p.sprite[p.torso - 60:p.torso] = p.sprite[p.torso - 30]  # a plain coat
    shares = []
    for _ in range(320):  # 2–3.5 px a frame: out of the picture within 11 s
        for k, p in enumerate(people):
            p.x += 2.0 + 0.5 * k
        flt.apply(frame(bg, people)[0])
    for _ in range(20):
        shares.append(flt.apply(bg.copy()).blurred_share)
    assert all(p.x > W for p in people)
    assert shares[-1] == 0.0, shares


def test_a_faint_walker_in_fog_is_covered() -> None:
    """Dense fog, contrast ×0.1 towards a bright airlight: the walker differs from the street
    behind by a few grey levels, about the background model's threshold. The motion layer
    stretches the picture's contrast before the model sees it (without: ≈ 0.54 of the
    walker's detail kept here; with: ≈ 0.24). (At ×0.1 the picture is about at the
    low-contrast guard's floor, which would pixelate it whole: the guard is off here, the
    layer under it is what is tested; ``test_contrast`` tests the guard.)"""
    def fog(img: Image) -> Image:
        out: Image = np.clip(img.astype(np.float32) * 0.1 + 195, 0, 255).astype(np.uint8)
        return out

    bg = background(W, H, 0)
    flt = people_filter(min_contrast=0.0)
    first_sweep(flt, fog(bg))
    p = walker(3, 48, 100.0, 100.0)
    kept = []
    for i in range(60):
        p.x += 3
        img, (body,) = frame(bg, [p])
        img = fog(img)
        r = flt.apply(img.copy())
        if i >= 10 and i % 5 == 0:
            kept.append(detail_kept(img, r.image, body, 48))
    assert max(kept) < 0.5, kept


def test_a_cut_to_another_picture_pixelates_it_whole_until_swept() -> None:
    """After a cut (another camera, the camera moved), the background model knows nothing of
    the new picture: it is pixelated whole until the sweep has searched it once."""
    flt = people_filter()
    first_sweep(flt, background(W, H, 0))
    r = flt.apply(background(W, H, 0))
    assert not r.whole
    other = background(W, H, 2)
    results = [flt.apply(other.copy()) for _ in range(30)]
    assert flt.restarts == 1
    n = next(i for i, r in enumerate(results) if not r.whole)
    assert 0 < n
    assert all(r.whole_reason == "first-sweep" for r in results[:n])


def test_an_exposure_jump_starts_over_too() -> None:
    flt = people_filter()
    bg = background(W, H, 1)
    first_sweep(flt, bg)
    bright = np.asarray(cv2.convertScaleAbs(bg, alpha=1.6), np.uint8)
    r = flt.apply(bright.copy())
    results = [r] + [flt.apply(bright.copy()) for _ in range(3)]
    assert flt.restarts == 1
    assert any(r.whole and r.whole_reason == "first-sweep" for r in results)


def test_a_large_face_walking_in_at_the_side_is_coarsely_pixelated_from_its_first_pixels(
) -> None:
    """Someone close to the camera walks in at the left edge, their face not found yet: the
    motion layer's 16 px blocks would put more than six across their face. Over the upper
    part of a person in motion the blocks are coarser."""
    w, h = 1280, 720
    bg = background(w, h, 1)
    flt = people_filter()
    first_sweep(flt, bg)
    p = walker(1, 120, -200.0, 150.0)
    kept = []
    for _ in range(50):  # 4 px a frame: the face is in view after ≈ 10 frames
        p.x += 4
        img = bg.astype(np.float32)
        face, _ = p.paste(img)
        frame_ = np.clip(img, 0, 255).astype(np.uint8)
        r = flt.apply(frame_.copy())
        if face[2] - max(0.0, face[0]) >= 24:
            cut = (max(0.0, face[0]), face[1], face[2], face[3])
            kept.append(detail_kept(frame_, r.image, cut, 120))
    assert len(kept) > 20
    assert max(kept) < 0.5, [round(k, 2) for k in kept]


class SlowNoFaces(NoFaces):
    """Finds nothing, in 5 ms a search: the first sweep then lasts ≈ 20 frames, as the real
    detector's sweep of upright and turned tiles does."""

    def detect(self, image: Image, width: int = 0) -> Boxes:
        time.sleep(0.005)
        return no_boxes()


def stopped_exposed(fast_frames: int) -> int:
    layered.FAST_FRAMES, before = fast_frames, layered.FAST_FRAMES
    try:
        flt = LayeredFilter(PrivacyMode.PEOPLE, PrivacyConfig(), SiteConfig(),
                            detector=lambda cfg: SlowNoFaces(), background=False)
        exposed = 0
        for i, (img, truths) in enumerate(Clip(seed=8, conditions=("stopped",), frames=150)):
            r = flt.apply(img.copy())
            if i % 5 == 0 and not r.whole:
                exposed += sum(detail_kept(img, r.image, t.body, t.px) >= 0.5
                               for t in truths if t.stopped)
        return exposed
    finally:
        layered.FAST_FRAMES = before


def test_people_who_stop_during_a_long_first_sweep_are_not_learnt_as_background() -> None:
    """Six people walk in at the sides and stop within the first second, while the first
    sweep still pixelates the picture. The background model learns fast only for its first
    frames (``FAST_FRAMES``), not for the whole sweep: learning fast that long, it took many
    of them in before the stopped-people layer saw them stand."""
    unbounded = stopped_exposed(10**9)
    bounded = stopped_exposed(layered.FAST_FRAMES)
    assert bounded <= 0.75 * unbounded, (bounded, unbounded)


def test_two_who_stop_one_behind_the_other_stay_covered() -> None:
    """Two people walk in one behind the other and stop side by side: the second walks on
    beside the first for 0.8 s after the first has stopped, about as long as the background
    model takes to take the first in. Both stay covered while they stand there (the walker
    beside the first held off their stop; once nothing moves near them they stop)."""
    bg = background(W, H, 0)
    flt = people_filter()
    first_sweep(flt, bg)
    pair = [walker(k, 24, -60.0 - 40 * k, 140.0 + 12 * k) for k in range(2)]
    stop_at = (200.0, 256.0)  # the second stops 24 frames after the first
    kept: list[list[float]] = [[], []]
    for i in range(60 + 30 * 30):
        for p, x in zip(pair, stop_at, strict=True):
            p.x = min(x, p.x + 4)
        img, bodies = frame(bg, pair)
        r = flt.apply(img.copy())
        if i >= 90 and i % 15 == 0:
            for k, body in enumerate(bodies):
                kept[k].append(detail_kept(img, r.image, body, 24))
    assert all(p.x == x for p, x in zip(pair, stop_at, strict=True))
    worst = [round(max(k), 2) for k in kept]
    assert max(worst) < 0.5, worst


def test_people_who_walk_in_at_the_sides_right_after_a_start_stay_covered() -> None:
    """Six people walk in at the sides from the first frame and stop within the first
    second, next to each other, while the first sweep pixelates the picture: some were in
    view before their cells were ever seen calm, and the model, learning fast then, takes
    them in within a few frames of their stop. Once the picture shows, none of them does."""
    flt = LayeredFilter(PrivacyMode.PEOPLE, PrivacyConfig(), SiteConfig(),
                        detector=lambda cfg: SlowNoFaces(), background=False)
    exposed: list[int] = []
    for i, (img, truths) in enumerate(Clip(seed=8, conditions=("stopped",), frames=240)):
        r = flt.apply(img.copy())
        if i % 10 == 0 and not r.whole:
            exposed += [i for t in truths
                        if t.stopped and detail_kept(img, r.image, t.body, t.px) >= 0.5]
    assert exposed == [], exposed
