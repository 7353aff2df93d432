"""The low-contrast guard: a picture within a few grey levels (white-out fog, fog at dusk)
is pixelated whole, since neither the motion layer nor the face detector can tell anyone
from the street in it.

Judged by the detector-free rule of the degraded set (``degrade.detail_kept``): a face whose
box keeps half of its band-pass detail or more is exposed.
"""

from __future__ import annotations

import numpy as np
from degrade import Clip, detail_kept

from window.config import PrivacyConfig, PrivacyMode, SiteConfig
from window.privacy.layered import LayeredFilter
from window.privacy.pixelate import Image

EXPOSED = 0.5


def people(**cfg: object) -> LayeredFilter:
    return LayeredFilter(PrivacyMode.PEOPLE, PrivacyConfig(**cfg),  # type: ignore[arg-type]
                         SiteConfig(), background=False)


def faint(img: Image, levels: float) -> Image:
    """``img`` squeezed into about ``levels`` grey levels around mid-grey."""
    g = img.astype(np.float32)
    lo, hi = np.percentile(g, (1, 99))
    out = 116 + (g - (lo + hi) / 2) * (levels / max(1.0, float(hi - lo)))
    return np.asarray(np.clip(out, 0, 255), np.uint8)


def exposures(flt: LayeredFilter, levels: float) -> tuple[int, list[str]]:
    exposed, reasons = 0, []
    for i, (img, truths) in enumerate(Clip(seed=11, conditions=("haze",), frames=90)):
        raw = faint(img, levels)
        r = flt.apply(raw.copy())
        reasons.append(r.whole_reason)
        if i >= 45 and i % 3 == 0:
            exposed += sum(detail_kept(raw, r.image, t.face, t.px) >= EXPOSED
                           for t in truths if t.whole and t.px >= 24)
    return exposed, reasons


def test_a_picture_within_a_few_grey_levels_is_pixelated_whole() -> None:
    # Without the guard, people in it keep their faces' detail (the fix's reason).
    unguarded, _ = exposures(people(min_contrast=0.0), 12)
    assert unguarded > 0
    guarded, reasons = exposures(people(), 12)
    assert guarded == 0
    assert all(r == "low-contrast" for r in reasons)


def test_ordinary_haze_is_not_pixelated_whole() -> None:
    _, reasons = exposures(people(), 60)
    assert "low-contrast" not in reasons
    assert reasons[-1] == ""
