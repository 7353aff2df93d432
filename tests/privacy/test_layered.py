"""The layered filter on real faces composited into 1280×720 scenes: after filtering, the
reference detector (full resolution) finds no face where it found one before."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from conftest import leaks
from scenes import background, faces, paste

from window.camera.scene import TestScene
from window.config import PrivacyConfig, PrivacyMode, SiteConfig
from window.privacy.faces import CenterFace
from window.privacy.filter import FilterResult
from window.privacy.layered import LayeredFilter
from window.privacy.tracker import BoxTracker


def make(mode: PrivacyMode, site: SiteConfig | None = None, **cfg: object) -> LayeredFilter:
    return LayeredFilter(mode, PrivacyConfig(**cfg), site or SiteConfig(),  # type: ignore[arg-type]
                         background=False)


SIZES = (24, 32, 48, 64, 96, 160, 240)


def first_sweep(flt: LayeredFilter, image: np.ndarray) -> int:
    """Feed ``image`` until the first sweep is done; every frame till then is blurred whole."""
    assert flt.scanner is not None
    n = 0
    while not flt.scanner.swept:
        r = flt.apply(image.copy())
        assert r.whole and r.whole_reason == "first-sweep" and r.blurred_share == 1.0
        n += 1
        assert n < 400  # (≈ 30 frames on an idle machine)
    return n


def until(step: Callable[[], FilterResult], done: Callable[[FilterResult], bool],
          most: int = 400) -> list[FilterResult]:
    """``step()`` until ``done`` holds for its result (the first sweep's length depends on
    the machine's load: its tiles are searched within a time budget per frame)."""
    out = [step()]
    while not done(out[-1]):
        assert len(out) < most
        out.append(step())
    return out


def still_scene() -> np.ndarray:
    img = background()
    for i, size in enumerate(SIZES):
        paste(img, faces()[1 + 13 * i], 30 + 180 * i, 160 + (i % 2) * 260, size)
    return img


def test_still_faces_24_to_240_px_never_leak_once_swept(reference: CenterFace) -> None:
    flt = make(PrivacyMode.FACES)
    scene = still_scene()
    first_sweep(flt, scene)
    was = reference.detect(scene)
    assert len(was) >= 5  # the reference sees most of them
    for i in range(40):  # ≥ one hold period more: tracks are kept alive by their checks
        r = flt.apply(scene.copy())
        assert not r.whole
        if i % 8 == 0:
            assert leaks(reference, scene, r.image) == []


@pytest.mark.parametrize("mode", [PrivacyMode.PEOPLE, PrivacyMode.FACES])
def test_moving_faces_never_leak(reference: CenterFace, mode: PrivacyMode) -> None:
    """Faces 48–200 px walk across (6 px a frame); every 6th frame is checked."""
    flt = make(mode)
    # A moment of the empty scene first, as a camera would see before people arrive.
    first_sweep(flt, background())
    for _ in range(10):
        flt.apply(background())
    found = 0
    for t in range(48):
        img = background()
        for i, size in enumerate((48 if mode is PrivacyMode.PEOPLE else 160, 96, 200)):
            paste(img, faces()[2 + 17 * i], 40 + 6 * t + 300 * i, 120 + 200 * (i % 2), size)
        out = flt.apply(img.copy()).image
        if t % 6 == 5:
            found += len(reference.detect(img))
            assert leaks(reference, img, out) == [], t
    assert found >= 16


def test_closeup_blurs_the_whole_frame_until_calm() -> None:
    flt = make(PrivacyMode.PEOPLE, closeup_hold_frames=5)
    first_sweep(flt, background())
    near = background()
    paste(near, faces()[0], 400, 40, 560)  # the face fills ≈ 40 % of the frame
    # Most of the picture changed: the first-sweep rule first (the new picture is searched
    # whole), then the close-up guard.
    results = until(lambda: flt.apply(near.copy()), lambda r: r.whole_reason == "closeup")
    assert all(r.whole and r.blurred_share == 1.0 for r in results)
    assert all(r.whole_reason in ("first-sweep", "closeup") for r in results)
    after = until(lambda: flt.apply(background()), lambda r: not r.whole)
    assert after[0].whole  # held


def test_zones_are_always_pixelated() -> None:
    site = SiteConfig(zones=[[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]])
    flt = make(PrivacyMode.FACES, site, dark_flat_sd=0.0)  # (the zone alone)
    img = background()
    first_sweep(flt, img)
    r = flt.apply(img.copy())
    assert r.blurred_share == pytest.approx(0.25, abs=0.01)
    zone = r.image[:360, :640].astype(int)
    # 16-px blocks: every block is one colour; outside the zone, untouched.
    blocks = zone[:352].reshape(22, 16, 40, 16, 3)
    assert (blocks == blocks[:, :1, :, :1, :]).all()
    assert np.array_equal(r.image[360:, 640:], img[360:, 640:])


def test_a_small_zone_is_pixelated_too() -> None:
    # A neighbour's window far away: 3 × 2 pixels of a 1280 × 720 frame.
    site = SiteConfig(zones=[[[0.5, 0.5], [0.50234375, 0.5], [0.50234375, 0.5027778],
                              [0.5, 0.5027778]]])
    flt = make(PrivacyMode.FACES, site)
    img = background()
    first_sweep(flt, img)
    r = flt.apply(img.copy())
    block = r.image[352:368, 640:656].reshape(-1, 3)  # the one 16 px block it lies in
    assert (block == block[0]).all()
    assert not np.array_equal(r.image[352:368, 640:656], img[352:368, 640:656])
    assert np.array_equal(r.image[352:368, 656:672], img[352:368, 656:672])  # not the next


def test_tracker_holds_and_leads_in_the_direction_of_motion() -> None:
    tr = BoxTracker(hold=10, margin=0.0, lead=4)
    for t in range(5):  # moving right by 8 px a frame
        tr.update(np.array([[100 + 8 * t, 100, 140 + 8 * t, 140]], np.float32))
    box = tr.boxes()[0]
    assert box[2] >= 172 + 20  # stretched ahead (to the right)...
    assert box[0] == pytest.approx(132, abs=1)  # ...not behind
    for _ in range(10):  # no detections: the box coasts ahead and grows, then is dropped
        tr.update(None)
        assert len(tr.boxes()) == 1
    coasted = tr.boxes()[0]
    assert coasted[0] <= 132 and coasted[2] > box[2] + 40  # still covers where it was seen
    tr.update(np.zeros((0, 4), np.float32))
    assert len(tr.boxes()) == 0


def test_a_passer_by_is_blurred_without_blanking_the_frame() -> None:
    """Someone walking past a few metres away (a quarter of the frame) is pixelated where
    they are; someone filling most of the frame (at the lens) blanks it whole."""
    # (This street is half a dark, even sky, pixelated by the dark-flat layer.)
    flt = make(PrivacyMode.PEOPLE, closeup_hold_frames=3, dark_flat_sd=0.0)
    first_sweep(flt, background())
    for _ in range(20):  # the background model learns the empty street
        flt.apply(background())
    rng = np.random.default_rng(0)
    coat = rng.integers(0, 255, (600, 300, 3), dtype=np.uint8)
    for step in range(8):
        img = background()
        img[100:700, 200 + 30 * step:500 + 30 * step] = coat  # ≈ 20 % of the frame
        r = flt.apply(img)
    assert not r.whole, r.whole_reason
    assert 0.15 < r.blurred_share < 0.6
    big = rng.integers(0, 255, (720, 900, 3), dtype=np.uint8)
    # Most of the picture changes: the first-sweep rule (the new picture is searched whole),
    # then the close-up guard.
    for step in range(400):
        img = background()
        x = 5 * step % 250
        img[:, 100 + x:1000 + x] = big  # ≈ 70 %
        r = flt.apply(img)
        assert r.whole and r.whole_reason in ("first-sweep", "closeup")
        if r.whole_reason == "closeup":
            break
    assert r.whole_reason == "closeup"


def test_the_street_stays_visible_while_every_walker_is_blurred(reference: CenterFace) -> None:
    """The demo street (seven walkers, faces 24–110 px): mode "people" blurs the people, not
    the city; no face the reference finds in the camera frame is found after filtering."""
    scene = TestScene(1280, 720, 30, seed=1)
    flt = make(PrivacyMode.PEOPLE)
    shares, people, checked = [], [], 0
    shown = False  # (the first sweep's length depends on the machine's load)
    for i in range(150):
        t = 1000.0 + i / 30
        img = scene.render(t)
        r = flt.apply(img.copy())
        if r.whole:
            assert not shown and r.whole_reason == "first-sweep" and i < 120
            continue
        shown = True
        if i >= 60:  # steady state
            shares.append(r.blurred_share)
            people.append(float(scene.people_mask(t).mean()))
        if i % 10 == 0:
            checked += len(reference.detect(img))
            assert leaks(reference, img, r.image) == [], i
    assert checked >= 30
    # The walkers themselves cover ≈ 15 % of the frame; their blur stays close to that.
    assert np.mean(shares) < 0.25
    assert np.mean(shares) < 1.6 * np.mean(people)


def _settle(tr: BoxTracker, *, hidden: bool, vacated: bool, let_go: bool = True) -> None:
    n = len(tr.tracks)
    tr.settle(hidden=np.full(n, hidden), vacated=np.full(n, vacated), let_go=let_go)


def test_a_face_hidden_by_a_passer_by_is_held_until_it_shows_again() -> None:
    tr = BoxTracker(hold=5, margin=0.0, lead=0)
    tr.update(np.array([[100, 100, 140, 140]], np.float32))
    _settle(tr, hidden=False, vacated=True)  # seen where nothing moves: a still face
    for _ in range(20):  # someone walks in front of it for longer than the hold
        tr.update(np.zeros((0, 4), np.float32))
        _settle(tr, hidden=True, vacated=False)
    assert tr.anchors().tolist() == [[100, 100, 140, 140]]
    for _ in range(5):  # shown again but not found: the usual hold runs down, no sooner
        tr.update(np.zeros((0, 4), np.float32))
        _settle(tr, hidden=False, vacated=True)
    assert len(tr.anchors()) == 1
    tr.update(np.zeros((0, 4), np.float32))
    _settle(tr, hidden=False, vacated=True)
    assert len(tr.anchors()) == 0


@pytest.mark.parametrize("let_go", [True, False])
def test_a_walker_gone_from_where_it_was_seen_is_let_go_only_where_motion_is_blurred(
        let_go: bool) -> None:
    tr = BoxTracker(hold=30, margin=0.0, lead=0)
    tr.update(np.array([[100, 100, 140, 140]], np.float32))
    _settle(tr, hidden=False, vacated=False)  # found while something moved there
    for _ in range(6):  # looked for in vain, and nothing moves there any more
        tr.update(np.zeros((0, 4), np.float32))
        for t in tr.tracks:
            t.unchecked = 0
        _settle(tr, hidden=False, vacated=True, let_go=let_go)
    assert len(tr.anchors()) == (0 if let_go else 1)


def test_a_track_taken_over_far_from_where_it_was_leaves_a_ghost_there() -> None:
    tr = BoxTracker(hold=30, margin=0.0, lead=0)
    tr.update(np.array([[100, 100, 140, 140]], np.float32))
    tr.update(np.array([[120, 100, 160, 140]], np.float32))  # the face walked on: same track
    assert len(tr.tracks) == 1
    tr.update(np.array([[150, 120, 165, 135]], np.float32))  # a small box inside: taken over
    assert sorted(tr.anchors().tolist()) == [[120, 100, 160, 140], [150, 120, 165, 135]]
