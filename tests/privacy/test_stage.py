"""The stage fails closed: errors, missed deadlines and warm-up give whole-frame pixelation on
that very frame; ``off`` needs the server's permission; the curtain sends no pixels."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from scenes import background, faces, paste

from window.config import PrivacyConfig, PrivacyMode, SiteConfig
from window.errors import Forbidden
from window.privacy import stage as stage_module
from window.privacy.filter import FilterResult, PrivacyFilter
from window.privacy.layered import LayeredFilter
from window.privacy.pixelate import Image, pixelate_whole
from window.privacy.stage import PrivacyStage


class Raises:
    name = "raises"

    def ready(self) -> bool:
        return True

    def apply(self, image: Image) -> FilterResult:
        image[:] = 0  # touches the frame first: the fallback must not use this copy
        raise RuntimeError("injected fault")

    def close(self) -> None:
        pass


class Sleeps:
    name = "sleeps"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def ready(self) -> bool:
        return True

    def apply(self, image: Image) -> FilterResult:
        time.sleep(self.seconds)
        return FilterResult(image, blurred_share=0.0)  # would pass the face through

    def close(self) -> None:
        pass


def scene_with_face() -> Image:
    img = background()
    paste(img, faces()[0], 500, 200, 160)
    return img


def stage_with(monkeypatch: pytest.MonkeyPatch, flt: PrivacyFilter,
               **cfg: int) -> PrivacyStage:
    monkeypatch.setattr(stage_module, "make_filter", lambda *a: flt)
    return PrivacyStage("t", PrivacyConfig(**cfg), SiteConfig())  # type: ignore[arg-type]


async def test_a_filter_that_raises_gives_whole_frame_blur_on_that_frame(
        monkeypatch: pytest.MonkeyPatch) -> None:
    st = stage_with(monkeypatch, Raises())
    img = scene_with_face()
    want = pixelate_whole(img, st.cfg.full_block_px)
    out = await st.process(img)
    assert out is not None and np.array_equal(out, want)
    assert st.stats.snapshot()["whole_frame_blurs"] == {"error": 1}
    st.close()


async def test_a_filter_past_the_deadline_gives_whole_frame_blur_on_that_frame(
        monkeypatch: pytest.MonkeyPatch) -> None:
    st = stage_with(monkeypatch, Sleeps(0.3), deadline_ms=50)
    img = scene_with_face()
    want = pixelate_whole(img, st.cfg.full_block_px)
    started = time.perf_counter()
    out = await st.process(img)
    assert time.perf_counter() - started < 0.25
    assert out is not None and np.array_equal(out, want)
    # The worker is still busy with that frame: the next one is blurred whole as backlog.
    out2 = await st.process(scene_with_face())
    assert out2 is not None
    assert st.stats.whole_by_reason == {"deadline": 1, "backlog": 1}
    st.close()


async def test_off_is_impossible_without_allow_off() -> None:
    with pytest.raises(Forbidden):
        PrivacyStage("t", PrivacyConfig(mode=PrivacyMode.OFF), SiteConfig())
    st = PrivacyStage("t", PrivacyConfig(mode=PrivacyMode.FULL), SiteConfig())
    with pytest.raises(Forbidden):
        st.set_mode(PrivacyMode.OFF)
    assert st.mode is PrivacyMode.FULL
    st.close()
    dev = PrivacyStage("t", PrivacyConfig(mode=PrivacyMode.OFF), SiteConfig(), allow_off=True)
    img = scene_with_face()
    out = await dev.process(img.copy())
    assert out is not None and np.array_equal(out, img)
    dev.close()


async def test_curtain_sends_no_pixels() -> None:
    st = PrivacyStage("t", PrivacyConfig(mode=PrivacyMode.CURTAIN), SiteConfig())
    assert st.curtain
    assert await st.process(scene_with_face()) is None
    st.set_mode(PrivacyMode.FULL)
    assert not st.curtain
    out = await st.process(scene_with_face())
    assert out is not None
    st.close()


async def test_people_mode_blurs_whole_until_warm_then_filters() -> None:
    # (Its street is half a dark, even sky: the dark-flat layer would pixelate that half.)
    st = PrivacyStage("t", PrivacyConfig(mode=PrivacyMode.PEOPLE, dark_flat_sd=0.0),
                      SiteConfig())
    flt = st._filter
    assert isinstance(flt, LayeredFilter)
    img = scene_with_face()
    if not flt.ready():
        out = await st.process(img.copy())
        assert out is not None
        assert np.array_equal(out, pixelate_whole(img, st.cfg.full_block_px))
        assert st.stats.whole_by_reason["warming"] == 1
    assert await asyncio.to_thread(flt.wait_ready, 60)
    for _ in range(100):  # the filter's own first sweep pixelates whole too
        await st.process(img.copy())
        if flt.scanner is not None and flt.scanner.swept:
            break
    out = await st.process(img.copy())
    assert out is not None
    assert st.stats.whole_by_reason["first-sweep"] >= 1
    snap = st.stats.snapshot()
    assert int(snap["faces"]) >= 1  # type: ignore[call-overload]
    assert 0 < float(snap["blurred_share"]) < 0.2  # type: ignore[arg-type]
    assert snap["latency_ms_p50"] is not None and snap["latency_ms_p95"] is not None
    assert snap["filtered"] == st.stats.filtered > 0
    assert snap["faces_per_frame"] is not None and snap["blurred_share_mean"] is not None
    # Outside the face box the frame is untouched.
    assert np.array_equal(out[:100, :400], img[:100, :400])
    st.close()


async def test_a_model_that_fails_to_load_keeps_the_feed_pixelated_whole(tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    cfg = PrivacyConfig(mode=PrivacyMode.FACES, face_model=str(bad))
    st = PrivacyStage("t", cfg, SiteConfig())
    flt = st._filter
    assert isinstance(flt, LayeredFilter)
    assert not await asyncio.to_thread(flt.wait_ready, 10)  # loading failed: never ready
    assert flt.load_error is not None
    img = scene_with_face()
    out = await st.process(img.copy())
    assert out is not None and np.array_equal(out, pixelate_whole(img, cfg.full_block_px))
    assert st.stats.whole_by_reason == {"warming": 1}
    st.close()


async def test_a_gap_in_the_feed_starts_the_first_sweep_over(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The camera reconnected (or stalled): the picture after the gap may be another one, so
    it is pixelated whole until the sweep has searched it again."""
    monkeypatch.setattr(stage_module, "RESTART_GAP_S", 0.3)
    st = PrivacyStage("t", PrivacyConfig(mode=PrivacyMode.PEOPLE), SiteConfig())
    flt = st._filter
    assert isinstance(flt, LayeredFilter)
    assert await asyncio.to_thread(flt.wait_ready, 60)
    img = scene_with_face()
    for _ in range(100):
        await st.process(img.copy())
        if flt.scanner is not None and flt.scanner.swept:
            break
    assert flt.scanner is not None and flt.scanner.swept
    await asyncio.sleep(0.6)  # no frames for twice the gap
    before = flt.restarts
    await st.process(img.copy())
    assert flt.restarts > before
    assert not flt.scanner.swept or st.stats.whole_by_reason["first-sweep"] >= 2
    st.close()
