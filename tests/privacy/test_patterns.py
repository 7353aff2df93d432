"""A pattern the coarse pass takes for a face (a quarter of full resolution, below the size it
finds faces reliably) that the closer check, looking at it at full resolution, refutes
twice, where nothing moves, is muted: kept, not pixelated. Anything moving in its box, or a
closer look finding a face there, ends that."""

from __future__ import annotations

import numpy as np
from scenes import background

from window.config import PrivacyConfig, PrivacyMode, SiteConfig
from window.privacy.faces import Boxes, no_boxes
from window.privacy.layered import LayeredFilter
from window.privacy.pixelate import Image
from window.privacy.scan import FaceScanner
from window.privacy.tracker import REFUTED, BoxTracker

BOX = np.array([[300, 200, 340, 240]], np.float32)


def _frame(tr: BoxTracker, *, coarse_finds: bool, checked: bool, sure: bool = False,
           moving: bool = False) -> None:
    """One frame: the coarse pass finds the pattern (or the check looks for it in vain)."""
    looked = list(tr.tracks) if checked else []
    if coarse_finds:
        tr.update(BOX, np.array([sure]))
    else:
        tr.update(np.zeros((0, 4), np.float32))
    tr.refute(looked)
    n = len(tr.tracks)
    tr.settle(hidden=np.zeros(n, bool), vacated=np.full(n, not moving))


def _refuted(sure: bool) -> BoxTracker:
    tr = BoxTracker(hold=30, margin=0.0, lead=0)
    for _ in range(REFUTED + 1):
        _frame(tr, coarse_finds=True, checked=False, sure=sure)
        _frame(tr, coarse_finds=False, checked=True)
    _frame(tr, coarse_finds=True, checked=False, sure=sure)
    assert len(tr.tracks) == 1
    return tr


def test_a_pattern_only_the_coarse_pass_finds_is_muted_once_the_check_refutes_it() -> None:
    tr = _refuted(sure=False)
    assert tr.shown().tolist() == [False]
    assert len(tr.anchors()) == 1  # kept: the coarse pass's finds go on updating it
    _frame(tr, coarse_finds=True, checked=False, moving=True)  # someone there now
    assert tr.shown().tolist() == [True]
    _frame(tr, coarse_finds=True, checked=False)
    assert tr.shown().tolist() == [True]  # refuted anew before it is muted again


def test_a_face_a_closer_look_found_is_never_muted() -> None:
    tr = _refuted(sure=True)
    assert tr.shown().tolist() == [True]
    tr = _refuted(sure=False)
    _frame(tr, coarse_finds=True, checked=False, sure=True)  # a tile finds it: a face
    assert tr.shown().tolist() == [True]
    for _ in range(2 * REFUTED):
        _frame(tr, coarse_finds=False, checked=True)
    assert tr.shown().tolist() == [True]


def test_a_face_found_where_something_moved_is_not_muted() -> None:
    tr = BoxTracker(hold=30, margin=0.0, lead=0)
    _frame(tr, coarse_finds=True, checked=False, moving=True)  # a walker
    for _ in range(2 * REFUTED):
        _frame(tr, coarse_finds=False, checked=True)
    assert tr.shown().tolist() == [True]


def test_a_coarse_find_is_no_closer_look() -> None:
    tr = BoxTracker(hold=30, margin=0.0, lead=0)
    tr.update(BOX)
    for _ in range(5):
        tr.update(BOX, np.array([False]))
    assert tr.tracks[0].unchecked == 5  # the check comes to it as if not found
    tr.update(BOX, np.array([True]))
    assert tr.tracks[0].unchecked == 0


class _Nothing:
    def detect(self, image: Image, width: int = 0) -> Boxes:
        return no_boxes()


def test_the_coarse_pass_is_not_sure_below_the_size_it_finds_reliably() -> None:
    scanner = FaceScanner(_Nothing(), coarse_width=320, coarse_every=2, sweep_widths=[1280],
                          tile_px=224)
    img = np.zeros((720, 1280, 3), np.uint8)
    scanner.scan(img, np.zeros((0, 5), np.float32))  # frame 0: the coarse pass
    assert scanner.unsure_below == scanner.min_coarse_face(1280) > 0
    scanner.scan(img, np.zeros((0, 5), np.float32))  # frame 1: a tile
    assert scanner.unsure_below == 0


def test_a_muted_pattern_is_not_pixelated() -> None:
    # (the photograph is half dark: the dark-flat layer would pixelate its shadows)
    flt = LayeredFilter(PrivacyMode.PEOPLE, PrivacyConfig(dark_flat_sd=0.0), SiteConfig(),
                        detector=lambda cfg: _Nothing(), background=False)
    img = background()
    assert flt.scanner is not None
    while not flt.scanner.swept:
        flt.apply(img.copy())
    for _ in range(20):
        assert flt.apply(img.copy()).blurred_share == 0
    flt.faces.update(BOX, np.array([False]))
    assert flt.apply(img.copy()).blurred_share > 0
    flt.faces.tracks[0].muted = True
    flt.faces.tracks[0].refuted = REFUTED
    assert flt.apply(img.copy()).blurred_share == 0
