"""Which filter runs for which privacy mode."""

from __future__ import annotations

from ..config import PrivacyConfig, PrivacyMode, SiteConfig
from .filter import Passthrough, PrivacyFilter, WholeFrame


def make_filter(mode: PrivacyMode, cfg: PrivacyConfig, site: SiteConfig) -> PrivacyFilter | None:
    """The filter for ``mode``; ``None`` for the curtain (no camera pixels at all).

    Until the layered people/face filter is in place, ``people`` and ``faces`` fail closed to
    whole-frame pixelation.
    """
    if mode is PrivacyMode.CURTAIN:
        return None
    if mode is PrivacyMode.OFF:
        return Passthrough()
    return WholeFrame(cfg.full_block_px)
