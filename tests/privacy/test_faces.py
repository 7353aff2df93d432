"""The face detector on real faces (scikit-image's astronaut, cameraman and LFW crops)."""

from __future__ import annotations

import numpy as np
from scenes import background, faces, overlaps, paste

from window.privacy.faces import CenterFace, bundled_model


def test_finds_real_faces_at_full_resolution_down_to_32_px(detector: CenterFace) -> None:
    found = total = 0
    for size in (32, 64, 160):
        scene = background()
        boxes = []
        for i, face in enumerate(faces()[::12]):  # 9 faces on a 5×2 grid
            x, y = 40 + (i % 5) * 250, 60 + (i // 5) * 340
            boxes.append(paste(scene, face, x, y, size))
        dets = detector.detect(scene)
        total += len(boxes)
        found += sum(any(overlaps(b, box, 0.2) for b in dets) for box in boxes)
    assert found / total >= 0.9


def test_reduced_width_finds_large_faces_only(detector: CenterFace) -> None:
    det = detector
    scene = background()
    big = paste(scene, faces()[0], 200, 150, 200)
    small = paste(scene, faces()[10], 900, 300, 24)
    boxes = det.detect(scene, 320)
    assert any(overlaps(b, big, 0.3) for b in boxes)
    assert not any(overlaps(b, small, 0.1) for b in boxes)
    # Boxes come back in frame pixels whatever the detection width.
    assert all(0 <= b[0] < b[2] <= 1280 and 0 <= b[1] < b[3] <= 720 for b in boxes)


def test_any_input_size_and_an_explicit_model_path() -> None:
    det = CenterFace(str(bundled_model()), threshold=0.2)
    scene = background(333, 257)
    box = paste(scene, faces()[0], 100, 60, 90)
    for width in (0, 160, 500):
        assert any(overlaps(b, box, 0.3) for b in det.detect(scene, width)), width
    assert len(det.detect(np.zeros((8, 8, 3), np.uint8))) == 0


def test_empty_scene_has_no_faces(detector: CenterFace) -> None:
    for which in range(3):
        assert len(detector.detect(background(which=which))) == 0
