"""Faces that walked on are let go where the motion layer has them, and only then: the
ghost a walker leaves keeps what was known of the walker, the motion that tells a face
left is judged in the face's own box, and the check looks first for the faces that may have
walked on (one look tells)."""

from __future__ import annotations

import numpy as np

from window.config import PrivacyConfig, PrivacyMode, SiteConfig
from window.privacy.faces import Boxes, no_boxes
from window.privacy.layered import LayeredFilter
from window.privacy.pixelate import Image
from window.privacy.scan import FaceScanner
from window.privacy.tracker import VACATE_AFTER, BoxTracker


def _settle(tr: BoxTracker, *, vacated: list[bool]) -> None:
    tr.settle(hidden=np.zeros(len(tr.tracks), bool), vacated=np.array(vacated), let_go=True)


def _walker_taken_over(in_motion: bool) -> BoxTracker:
    """A face found twice, walking (or standing, when not ``in_motion``), then its track
    taken over by a small box far from it: a ghost stays where the face was seen."""
    tr = BoxTracker(hold=30, margin=0.0, lead=0)
    for box in ([100, 100, 140, 140], [110, 100, 150, 140]):
        tr.update(np.array([box], np.float32))
        _settle(tr, vacated=[not in_motion])
    for _ in range(3):  # not found for a few frames, looked for
        for t in tr.tracks:
            t.unchecked = 0
        tr.update(np.zeros((0, 4), np.float32))
        _settle(tr, vacated=[not in_motion])
    tr.update(np.array([[140, 112, 156, 128]], np.float32))  # taken over far away
    assert len(tr.tracks) == 2
    ghost = next(t for t in tr.tracks if t.age > 0)
    assert ghost.seen.tolist() == [110, 100, 150, 140]
    return tr


def test_a_walkers_ghost_is_let_go_once_nothing_moves_where_the_walker_was() -> None:
    tr = _walker_taken_over(in_motion=True)
    ghost = next(t for t in tr.tracks if t.age > 0)
    # The ghost knows what the track knew: the walker was in motion there and has been
    # looked for since.
    assert ghost.in_motion and ghost.unchecked < ghost.age
    for _ in range(VACATE_AFTER):
        # Nothing moves where the walker was; the new face is where it was found.
        _settle(tr, vacated=[t is ghost for t in tr.tracks])
        tr.update(np.array([[140, 112, 156, 128]], np.float32))
    assert all(t is not ghost for t in tr.tracks)


def test_a_standing_faces_ghost_stays_held() -> None:
    tr = _walker_taken_over(in_motion=False)
    ghost = next(t for t in tr.tracks if t.age > 0)
    assert not ghost.in_motion
    for _ in range(10):
        _settle(tr, vacated=[True] * len(tr.tracks))
        tr.update(np.array([[140, 112, 156, 128]], np.float32))
    assert any(t is ghost for t in tr.tracks)


class _Nothing:
    def detect(self, image: Image, width: int = 0) -> Boxes:
        return no_boxes()


def test_a_face_has_left_when_nothing_moves_in_its_own_box() -> None:
    flt = LayeredFilter(PrivacyMode.PEOPLE, PrivacyConfig(), SiteConfig(),
                        detector=lambda cfg: _Nothing(), background=False)
    grid = flt._grid_for(1280, 720)
    flt.faces.margin = 0.5
    flt.faces.update(np.array([[320, 320, 352, 352]], np.float32))  # cells 20-21 across
    assert grid.span(flt.faces.anchors()[0]) != grid.span(flt.faces.seen_boxes()[0])
    age = flt._motion_age
    age[:] = 255
    age[20:22, 19] = 0  # something moves in the anchor's margin only (a walker's shoulder)
    hidden, vacated = flt._where_seen(grid)
    assert vacated.tolist() == [True] and hidden.tolist() == [False]
    age[21, 21] = 0  # ...and in the face's own box: it may still be there
    hidden, vacated = flt._where_seen(grid)
    assert vacated.tolist() == [False]


class _Crops:
    """Finds nothing; remembers where it was asked to look."""

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def detect(self, image: Image, width: int = 0) -> Boxes:
        self.sizes.append(image.shape[:2])
        return no_boxes()


def test_the_check_looks_first_for_faces_that_may_have_walked_on() -> None:
    det = _Crops()
    scanner = FaceScanner(det, coarse_width=320, coarse_every=2, sweep_widths=[1280],
                          tile_px=224)
    img = np.zeros((720, 1280, 3), np.uint8)
    # Five small held faces (x0, y0, x1, y1, frames since looked for); the last one was
    # looked for most recently, but may have walked on.
    held = np.array([[100 + 200 * i, 300, 140 + 200 * i, 340, 20 - i] for i in range(5)],
                    np.float32)
    scanner._frame = 1  # not a coarse frame: the check
    scanner.scan(img, held, None, first=[4])
    assert scanner.checked[0] == 4
    assert 4 not in scanner.checked[1:]
    scanner = FaceScanner(det, coarse_width=320, coarse_every=2, sweep_widths=[1280],
                          tile_px=224)
    scanner._frame = 1
    scanner.scan(img, held, None)
    assert scanner.checked[0] == 0


def test_the_check_looks_first_for_walkers_that_may_have_left_and_for_coarse_finds() -> None:
    flt = LayeredFilter(PrivacyMode.PEOPLE, PrivacyConfig(), SiteConfig(),
                        detector=lambda cfg: _Nothing(), background=False)
    grid = flt._grid_for(1280, 720)
    boxes = np.array([[100 + 100 * i, 300, 140 + 100 * i, 340] for i in range(5)], np.float32)
    flt.faces.update(boxes, np.array([True, True, False, False, True]))
    flt.faces.update(np.zeros((0, 4), np.float32))  # not found since, not looked for
    walker, _standing, _pattern, muted, moving = flt.faces.tracks
    walker.in_motion = moving.in_motion = True
    muted.muted = True
    flt._motion_age[:] = 255
    flt._motion_age[grid.span(moving.seen)] = 0  # ...still moving where it was seen
    assert flt._look_first(grid) == [0, 2]
