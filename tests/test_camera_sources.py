"""Camera sources: the synthetic scene with real faces, file looping, live reconnects and
the latency markers through a real VP8 encode/decode."""

from __future__ import annotations

import asyncio
import fractions
import time
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from window.camera.faces import face_sprite
from window.camera.marker import decode_flash, decode_marker, draw_marker, flash_on
from window.camera.scene import TestScene
from window.camera.sources import (
    TIME_BASE,
    FileSource,
    LiveSource,
    SourceError,
    SyntheticSource,
    open_source,
    parse_spec,
)

T0 = 1_700_000_000.25  # a fixed UNIX time, away from flash windows


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_scene_shows_real_faces_that_move() -> None:
    scene = TestScene(1280, 720, 30, seed=0, max_head=200)
    frame = scene.render(T0)
    assert frame.shape == (720, 1280, 3) and frame.dtype == np.uint8
    faces = scene.faces(T0)
    assert len(faces) >= 4
    # Sizes over the whole cast span 24..max_head px.
    all_sizes = sorted(p.face_box[3] - p.face_box[1] for p in scene._people)
    assert all_sizes[0] <= 26 and all_sizes[-1] >= 190, all_sizes
    for f in faces:
        region = (slice(f.y0, f.y1), slice(f.x0, f.x1))
        assert _diff(frame[region], scene._background[region]) > 10, f
    # The biggest walker's head is the astronaut photo, pixel for pixel (inside its ellipse).
    astro = face_sprite(0, 200)
    big = next(p for p in scene._people if p.face_box[3] - p.face_box[1] == 200)
    t = T0
    while True:  # find a time when the big face is fully in view
        x = scene._x(big, t) + big.face_box[0]
        if 0 <= x and x + astro.shape[1] <= 1280:
            break
        t += 0.25
    got = scene.render(t)[big.top + 60 : big.top + 140, x + 40 : x + astro.shape[1] - 40]
    if big.speed < 0:  # walking left: the sprite is mirrored
        astro = astro[:, ::-1]
    assert _diff(got, astro[60:140, 40:-40]) < 2.0
    # Half a second later everyone has moved.
    later = scene.render(T0 + 0.5)
    moved = scene.faces(T0 + 0.5)
    assert [f.x0 for f in moved] != [f.x0 for f in faces]
    assert _diff(frame[250:720], later[250:720]) > 1.0
    # Same time, same picture.
    assert np.array_equal(scene.render(T0), frame)


def test_scene_renders_fast() -> None:
    scene = TestScene(1280, 720, 30, seed=1, marker="barcode", label="bochum")
    for i in range(5):
        scene.render(T0 + i / 30)
    n = 60
    start = time.perf_counter()
    for i in range(n):
        scene.render(T0 + i / 30)
    per_frame = (time.perf_counter() - start) / n
    assert per_frame < 0.005, f"{per_frame * 1000:.2f} ms per frame"


def test_marker_survives_vp8_at_1mbps() -> None:
    scene = TestScene(1280, 720, 30, seed=2, marker="barcode")
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = 1280, 720, "yuv420p"
    enc.time_base = fractions.Fraction(1, 30)
    enc.framerate = fractions.Fraction(30, 1)
    enc.bit_rate = 1_000_000
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    dec = av.CodecContext.create("vp8", "r")
    stamps = [T0 + i / 30 for i in range(45)]
    decoded: list[float | None] = []
    for i, stamp in enumerate(stamps):
        img = scene.render(stamp)
        frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
        frame.pts = i
        for packet in enc.encode(frame):
            for out in dec.decode(packet):
                decoded.append(decode_marker(out.to_ndarray(format="bgr24")))
    for packet in enc.encode(None):
        for out in dec.decode(packet):
            decoded.append(decode_marker(out.to_ndarray(format="bgr24")))
    assert len(decoded) == len(stamps)
    for want, got in zip(stamps, decoded, strict=True):
        assert got is not None and abs(got - want) < 0.0011, (want, got)


def test_marker_with_32px_blocks_survives_32px_pixelation() -> None:
    img = TestScene(1280, 720, 30, seed=3).render(T0)
    draw_marker(img, T0, block=32)
    small = cv2.resize(img, (1280 // 32, 720 // 32), interpolation=cv2.INTER_AREA)
    pixelated = cv2.resize(small, (1280, 720 // 32 * 32), interpolation=cv2.INTER_NEAREST)
    assert decode_marker(pixelated, block=32) == pytest.approx(T0, abs=0.0011)
    # A frame without a marker decodes to None, not to garbage.
    assert decode_marker(TestScene(1280, 720, 30, seed=3).render(T0)) is None


def test_flash_marker_survives_any_blur() -> None:
    scene = TestScene(640, 360, 30, seed=4, marker="flash")
    on, off = 1000.05, 1000.5
    assert flash_on(on) and not flash_on(off)
    for t, want in ((on, True), (off, False)):
        img = scene.render(t)
        blurred = cv2.resize(cv2.resize(img, (20, 11)), (640, 360))
        assert decode_flash(img) is want and decode_flash(blurred) is want


def test_parse_spec() -> None:
    s = parse_spec("test?width=640&height=360&fps=15&marker=barcode")
    assert (s.kind, s.width, s.height, s.fps, s.marker) == ("test", 640, 360, 15.0, "barcode")
    assert parse_spec("").kind == "test"
    r = parse_spec("rtsp://cam.local:554/stream?channel=1")
    assert (r.kind, r.target) == ("rtsp", "rtsp://cam.local:554/stream?channel=1")
    r = parse_spec("rtsp://cam/s?channel=1?width=640")
    assert (r.target, r.width) == ("rtsp://cam/s?channel=1", 640)
    assert parse_spec("/dev/video0").kind == "device"
    assert parse_spec("clips/street.mp4").kind == "file"
    with pytest.raises(SourceError):
        parse_spec("test?fps=abc")
    with pytest.raises(SourceError):
        open_source("/nonexistent/clip.mp4")


async def test_synthetic_source_paces_without_blocking_the_loop() -> None:
    src = SyntheticSource(1280, 720, 30, marker="barcode")
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    start = time.monotonic()
    frames = [await src.recv() for _ in range(30)]
    elapsed = time.monotonic() - start
    done.set()
    await tick
    src.stop()
    assert 0.8 < elapsed < 1.6, elapsed
    assert all(f.time_base == TIME_BASE for f in frames)
    assert all((f.width, f.height, f.format.name) == (1280, 720, "yuv420p") for f in frames)
    pts = [f.pts for f in frames]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    assert (pts[-1] - pts[0]) / 90000 == pytest.approx(29 / 30, abs=0.15)
    assert max(gaps) < 0.05, max(gaps)
    stamp = decode_marker(frames[-1].to_ndarray(format="bgr24"))
    assert stamp is not None and abs(stamp - time.time()) < 1.0


def _write_clip(path: Path, frames: int = 10, fps: int = 15) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(frames):
            img = np.full((240, 320, 3), 20 * i + 30, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


async def test_file_source_loops_at_the_files_rate(tmp_path: Path) -> None:
    clip = tmp_path / "clip.webm"
    _write_clip(clip, frames=10, fps=15)
    src = open_source(f"{clip}?width=160&height=120")
    assert isinstance(src, FileSource)
    start = time.monotonic()
    frames = [await src.recv() for _ in range(25)]
    elapsed = time.monotonic() - start
    loops = src.loops
    src.stop()
    assert loops >= 2
    assert 1.3 < elapsed < 2.6, elapsed  # 24 intervals at 15 fps = 1.6 s
    assert all((f.width, f.height) == (160, 120) for f in frames)
    pts = [f.pts for f in frames]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    levels = [round(float(f.to_ndarray(format="bgr24").mean())) for f in frames]
    # Frame k of the clip has grey level 20k+30: the sequence repeats every 10 frames.
    assert levels[:10] == levels[10:20]
    assert levels[0] < levels[9]


async def test_live_source_reopens_after_end_of_stream(tmp_path: Path) -> None:
    clip = tmp_path / "live.webm"
    _write_clip(clip, frames=5, fps=15)
    src = LiveSource(str(clip), stall=10.0)
    try:
        first = await asyncio.wait_for(src.recv(), 5)
        assert first.format.name == "yuv420p"
        last = first
        while src.frames_in < 10:  # 5 frames a pass: the file must be reopened
            last = await asyncio.wait_for(src.recv(), 5)
        assert src.reconnects >= 1
        assert last.pts > first.pts
    finally:
        src.stop()


def test_the_scene_has_faces_without_scikit_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lean install (no scikit-image): the synthetic camera still shows real faces."""
    import builtins

    from window.camera import faces as camera_faces
    from window.privacy.faces import CenterFace

    real_import = builtins.__import__

    def no_skimage(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "skimage" or name.startswith("skimage."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_skimage)
    camera_faces.lfw_faces.cache_clear()
    try:
        small = [face_sprite(i, 48) for i in range(1, 6)]
        det = CenterFace(threshold=0.2)
        for sprite in small:
            frame = np.full((360, 640, 3), 120, np.uint8)
            frame[100:148, 300:300 + sprite.shape[1]] = sprite
            assert len(det.detect(frame)) == 1
    finally:
        camera_faces.lfw_faces.cache_clear()
