"""The slate: a calm still picture that says whose window this is and why it is not live.

Contains no camera pixels: drawn from text alone. The text comes from the translation files
(``window.i18n``) and is set with FreeType (Pillow) in Noto Sans CJK, which has every glyph of
German, Japanese and English. A feed's one slate is seen by everyone who watches that feed, so
it speaks its audience's languages: first the language of the screens that show this feed
(Bochum's slate, seen on Tsukuba's screens, in Japanese), then the site's own, smaller. The
kiosk and viewer pages lay their own text over it in the reader's language (docs/i18n.md).
Rendered on a worker thread, once per change of its text (at most once a minute: the clock).
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from .. import i18n

Image = npt.NDArray[np.uint8]
log = logging.getLogger("window.slate")

# Where the font comes from, best first: the PyPI package (what `pip install` brings), then
# Debian's fonts-noto-cjk. DejaVu (Latin only) is the last resort, with a warning.
DEBIAN_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
REASONS = ("offline", "paused", "closed", "starting", "stopping")


@cache
def font_path() -> Path | None:
    """The font slates are set in: one that covers Latin and CJK when it can be had."""
    try:
        import noto_cjk_sans_jp_regular as noto  # type: ignore[import-untyped]  # the font only, OFL

        path = Path(str(noto.FONT_PATH))
        if path.is_file():
            return path
    except ImportError:
        pass
    if DEBIAN_CJK.is_file():
        return DEBIAN_CJK
    log.warning("no CJK font (pip install noto-cjk-sans-jp-regular, or apt install "
                "fonts-noto-cjk): slates cannot write Japanese")
    return DEJAVU if DEJAVU.is_file() else None


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path()
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size)


def _line(draw: ImageDraw.ImageDraw, width: int, y: float, text: str, size: int,
          fill: tuple[int, int, int], bold: bool = False) -> None:
    if not text:
        return
    f = font(size)
    # a line too wide for the slate is set smaller, never cut off
    while size > 12 and draw.textlength(text, font=f) > width * 0.92:
        size = int(size * 0.9)
        f = font(size)
    draw.text((width / 2, y), text, font=f, fill=fill, anchor="mm",
              stroke_width=max(1, size // 40) if bold else 0, stroke_fill=fill)


@cache
def _background(width: int, height: int) -> Image:
    """A quiet vertical gradient, dark blue to near black (BGR); drawn on copies only."""
    ramp = np.linspace(70, 18, height, dtype=np.float32)[:, None]
    img = np.empty((height, width, 3), np.uint8)
    img[:, :, 0] = np.broadcast_to(ramp.astype(np.uint8), (height, width))
    img[:, :, 1] = np.broadcast_to((ramp * 0.55).astype(np.uint8), (height, width))
    img[:, :, 2] = np.broadcast_to((ramp * 0.35).astype(np.uint8), (height, width))
    img.flags.writeable = False
    return img


def reason_text(reason: str, language: str, opening: datetime | None) -> str:
    """One line: why the window is not live (and when a closed site opens)."""
    if reason not in REASONS:
        return reason
    words = i18n.text(language, f"slate.{reason}")
    if reason == "closed" and opening is not None:
        when = i18n.weekday_time_text(opening, language)
        words += " · " + i18n.text(language, "slate.opens", when=when)
    return words


def render_slate(width: int, height: int, titles: dict[str, str], languages: list[str],
                 reason: str, local: datetime, opening: datetime | None = None) -> Image:
    """A BGR slate: the site's name, the reason and the site's local time, in ``languages``
    (the first large, the next smaller); ``titles`` is the site's name per language."""
    # Pillow draws on the BGR array as it is (its "RGB" is just three channels here), so the
    # colours below are written (B, G, R) and nothing is converted afterwards
    picture = PILImage.fromarray(_background(width, height), "RGB")
    draw = ImageDraw.Draw(picture)
    s = height / 720
    first, others = languages[0], languages[1:]
    title = titles.get(first, "")
    more = [titles[lang] for lang in others if titles.get(lang) and titles[lang] != title]
    _line(draw, width, height * 0.30, title, int(96 * s), (240, 240, 240), bold=True)
    if more:
        _line(draw, width, height * 0.425, " · ".join(more), int(44 * s), (200, 210, 220))
    _line(draw, width, height * 0.54, reason_text(reason, first, opening), int(48 * s),
          (225, 232, 238))
    for i, lang in enumerate(others[:2]):
        _line(draw, width, height * (0.63 + 0.07 * i), reason_text(reason, lang, opening),
              int(34 * s), (180, 195, 208))
    clock = f"{i18n.time_text(local, first)} · {i18n.date_text(local, first)}"
    _line(draw, width, height * (0.63 + 0.07 * len(others[:2]) + 0.06), clock, int(40 * s),
          (170, 190, 205))
    return np.asarray(picture, np.uint8)


class SlateCache:
    """Keeps the current slate, re-rendering only when its text changes (once a minute)."""

    def __init__(self, width: int, height: int, titles: dict[str, str],
                 languages: list[str]) -> None:
        self.width, self.height = width, height
        self.titles, self.languages = titles, languages or ["en"]
        self._key: tuple[str, str, datetime | None] | None = None
        self._image: Image | None = None
        self.renders = 0

    def get(self, reason: str, local: datetime, opening: datetime | None = None) -> Image:
        key = (reason, local.strftime("%Y%m%d%H%M"), opening)
        if key != self._key or self._image is None:
            self._image = render_slate(self.width, self.height, self.titles, self.languages,
                                       reason, local, opening)
            self._key = key
            self.renders += 1
        return self._image
