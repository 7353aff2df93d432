"""Slates write German and Japanese with real glyphs (not "?" or empty boxes), in the
languages of the screens that show the feed, and are drawn once per change."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from peers import watch
from PIL import ImageFont
from servers import running, small_config

from window import i18n
from window.auth.roles import Role
from window.auth.tokens import mint
from window.config import LANGUAGES, Config
from window.media import slate

MISSING = "\U0010fffd"  # a private-use code point no font has: FreeType draws .notdef


def _glyph(f: ImageFont.FreeTypeFont | ImageFont.ImageFont, ch: str) -> bytes:
    mask = f.getmask(ch)
    return bytes(mask) + bytes(str(mask.size), "ascii")


def _slate_chars() -> set[str]:
    cfg = Config()
    chars: set[str] = set()
    for lang in LANGUAGES:
        for key, text in i18n.messages(lang).items():
            if key.startswith("slate."):
                chars |= set(text)
        when = datetime(2026, 12, 5, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
        chars |= set(i18n.weekday_time_text(when + timedelta(days=1), lang))
        for d in range(7):
            chars |= set(i18n.date_text(when + timedelta(days=d), lang))
        for name, site in cfg.sites.items():
            chars |= set(i18n.site_title(name, site, lang))
    return {c for c in chars if not c.isspace() and c not in "{}"}


def test_the_slate_font_covers_latin_and_japanese() -> None:
    path = slate.font_path()
    assert path is not None and "CJK" in path.name, (
        f"slates are set in {path}: pip install noto-cjk-sans-jp-regular (pyproject.toml)")


def test_every_slate_character_is_a_real_glyph_not_the_fallback_box() -> None:
    f = slate.font(48)
    box = _glyph(f, MISSING)
    chars = _slate_chars()
    assert {"Ö", "ß", "ボ", "開", "つ", "土"} <= chars  # what a Hershey font cannot write
    fallback = sorted(c for c in chars if _glyph(f, c) == box)
    assert fallback == [], f"drawn as the fallback box: {''.join(fallback)}"
    blank = sorted(c for c in chars if f.getbbox(c)[2] - f.getbbox(c)[0] <= 0)
    assert blank == [], f"drawn as nothing: {''.join(blank)}"
    # and distinct letters look distinct (a font that drew every glyph alike would pass above)
    sample = "ÖöÄäÜüßボーフムつくば再開公開時間外"
    assert len({_glyph(f, c) for c in sample}) == len(set(sample))


def test_german_and_japanese_slates_draw_their_text() -> None:
    """Pixels of a real slate: each text line differs from the same line set in fallback
    boxes, and from the line in another language."""
    local = datetime(2026, 12, 2, 21, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    opening = local + timedelta(hours=11)
    titles = {"de": "Bochum", "ja": "ボーフム", "en": "Bochum"}
    ja = slate.render_slate(1280, 720, titles, ["ja", "de"], "closed", local, opening)
    de = slate.render_slate(1280, 720, titles, ["de", "ja"], "closed", local, opening)
    assert ja.shape == (720, 1280, 3) and ja.dtype == np.uint8
    boxes = {lang: slate.render_slate(
        1280, 720, {lang: MISSING * len(titles[lang])}, [lang],
        MISSING * len(slate.reason_text("closed", lang, opening)), local) for lang in ("ja", "de")}
    band = slice(int(720 * 0.22), int(720 * 0.38))  # the title line
    for lang, picture in (("ja", ja), ("de", de)):
        ink = picture[band].max(axis=2) > 120
        assert ink.mean() > 0.01, lang  # text is there
        assert np.abs(picture[band].astype(int) - boxes[lang][band].astype(int)).mean() > 1
    assert np.abs(ja.astype(int) - de.astype(int)).mean() > 1
    # the German slate spells the opening hours with its umlaut, "Öffnet"
    assert slate.reason_text("closed", "de", opening).startswith("Geschlossen – außerhalb")
    assert "Öffnet" in slate.reason_text("closed", "de", opening)


def test_the_slate_is_drawn_once_per_change() -> None:
    cache = slate.SlateCache(640, 360, {"de": "Bochum", "ja": "ボーフム"}, ["ja", "de"])
    now = datetime(2026, 12, 2, 21, 30, 5, tzinfo=ZoneInfo("Europe/Berlin"))
    first = cache.get("offline", now)
    assert cache.get("offline", now + timedelta(seconds=20)) is first
    assert cache.renders == 1
    cache.get("paused", now)
    cache.get("paused", now + timedelta(minutes=1))  # the clock on it changed
    assert cache.renders == 3


@pytest.mark.parametrize(("reason", "lang", "words"), [
    ("offline", "ja", "カメラは停止中です"), ("closed", "de", "Geschlossen"),
    ("paused", "en", "Paused by the operators"), ("something", "en", "something")])
def test_reason_lines(reason: str, lang: str, words: str) -> None:
    assert words in slate.reason_text(reason, lang, None)


async def test_a_feeds_slate_reaches_its_viewers_in_the_watching_screens_language(
        tmp_path: Path) -> None:
    """Bochum's offline slate, as a real WHEP viewer decodes it, is the one written Japanese
    first (for Tsukuba's screens), not German first."""
    async with running(small_config(tmp_path)) as srv:
        token = mint(srv.cfg, srv.keys, role=Role.VIEWER, ttl_s=600, site="bochum")[0]
        viewer = await watch(srv.url, "bochum", token)
        try:
            await viewer.wait_for(lambda img: img.shape == (360, 640, 3))
            now = srv.relay.clocks["bochum"].now()
            titles = i18n.titles("bochum", srv.cfg.sites["bochum"])

            def distance(img: np.ndarray, languages: list[str]) -> float:
                want = slate.render_slate(640, 360, titles, languages, "offline", now)
                return float(np.abs(img.astype(int) - want.astype(int)).mean())

            await viewer.wait_for(lambda img: distance(img, ["ja", "de"]) < 3)
            assert viewer.last_image is not None
            assert distance(viewer.last_image, ["de", "ja"]) > 2 * distance(
                viewer.last_image, ["ja", "de"])
        finally:
            await viewer.close()
