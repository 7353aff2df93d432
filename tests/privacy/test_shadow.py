"""Faces in shadow against a bright background (backlight): the first sweep's second look
into a tile with dark things in it, and the check of a held face in shadow, stretch the dark
tones and look a little closer. Scenes of the degraded set (``degrade.Clip``, condition
``backlight``: a bright background, the people ×0.3)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from degrade import Clip

from window.privacy import scan
from window.privacy.faces import Boxes, CenterFace
from window.privacy.scan import FaceScanner

# The third clip of the degraded set's backlight condition: a 24 px face (grey 31) standing
# at the left.
SEED = 200 + zlib.crc32(b"backlight") % 97
SMALL = (88, 220, 112, 244)


def frame(n: int) -> np.ndarray:
    for i, (img, _) in enumerate(Clip(seed=SEED, conditions=("backlight",), frames=n + 1)):
        if i == n:
            return img
    raise AssertionError


def at(found: Boxes, box: tuple[int, int, int, int]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(b[0] < cx < b[2] and b[1] < cy < b[3] for b in found)


def first_sweep(img: np.ndarray) -> Boxes:
    scanner = FaceScanner(CenterFace(threshold=0.2, small_threshold=0.1), coarse_width=320,
                          coarse_every=6, sweep_widths=[640, 1280], tile_px=224,
                          sweep_angles=[35, -35])
    found = [scanner.first_sweep(img, 10.0)]
    while not scanner.swept:
        found.append(scanner.first_sweep(img, 10.0))
    return np.concatenate(found)


def test_the_first_sweep_finds_a_small_face_in_shadow(monkeypatch: pytest.MonkeyPatch) -> None:
    img = frame(30)
    assert at(first_sweep(img), SMALL)
    # Without the stretched closer look no tile finds it, upright, turned or brightened.
    monkeypatch.setattr(scan, "DARK_SHARE", 2.0)
    assert not at(first_sweep(img), SMALL)


def test_the_check_finds_a_held_face_in_shadow(monkeypatch: pytest.MonkeyPatch) -> None:
    scanner = FaceScanner(CenterFace(threshold=0.2, small_threshold=0.1), coarse_width=320,
                          coarse_every=6, sweep_widths=[640, 1280], tile_px=224)
    held = np.array([[*SMALL, 0]], np.float32)
    frames = [frame(n) for n in (40, 60, 80)]
    assert all(at(scanner._check(img, held, [0]), SMALL) for img in frames)
    monkeypatch.setattr(scan, "DARK_ZOOM", 1.0)  # looked for as any face: missed
    monkeypatch.setattr(scan, "_STRETCH", None)
    assert not any(at(scanner._check(img, held, [0]), SMALL) for img in frames)
