"""The CenterFace model ships inside the package: the bytes we checked, its licence notice,
free input dims (no ``onnx`` needed to load it), and it finds faces."""

from __future__ import annotations

import builtins
import hashlib
from typing import Any

import numpy as np
import pytest

from window.camera.faces import astronaut_face
from window.privacy import faces
from window.privacy.faces import CenterFace, _dynamic_model_bytes, bundled_model

SHA256 = "5aaf17b351911ad4a27f126d2de45809710c458b95cba4a6478c4fd4e2e9d978"


def test_the_bundled_model_is_the_one_we_checked() -> None:
    data = bundled_model().read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHA256


def test_its_licence_notice_ships_beside_it() -> None:
    notice = (bundled_model().parent / "NOTICE.md").read_text()
    assert "MIT License" in notice and "Star-Clouds" in notice
    assert SHA256 in notice  # the notice names the file it is about


def test_it_loads_and_finds_a_face_without_the_onnx_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_onnx(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    monkeypatch.setattr(faces, "_sessions", {})  # load it anew, not the process's session
    _dynamic_model_bytes.cache_clear()
    try:
        det = CenterFace()
        shape = det.session.get_inputs()[0].shape
        assert not isinstance(shape[2], int) and not isinstance(shape[3], int)  # free H, W
        frame = np.full((360, 640, 3), 110, np.uint8)
        face = astronaut_face()
        frame[60:60 + face.shape[0], 200:200 + face.shape[1]] = face
        boxes = det.detect(frame)
        assert len(boxes) >= 1
        x0, y0, x1, y1, _ = boxes[0]
        assert 150 < (x0 + x1) / 2 < 400 and 60 < (y0 + y1) / 2 < 240
    finally:
        _dynamic_model_bytes.cache_clear()


def test_mode_switches_share_one_detector_session() -> None:
    """Each switch into people/faces builds a new filter; a new onnxruntime session each time
    stepped the relay's memory up by tens of MB (the soak). They share one per model."""
    a = CenterFace(threshold=0.3)
    b = CenterFace(threshold=0.6)
    assert a.session is b.session  # one model, one session
    assert (a.threshold, b.threshold) == (0.3, 0.6)  # thresholds stay each filter's own
    assert CenterFace(threads=2).session is not a.session  # another thread count: its own
