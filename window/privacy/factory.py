"""Which filter runs for which privacy mode."""

from __future__ import annotations

from ..config import PrivacyConfig, PrivacyMode, SiteConfig
from .filter import Passthrough, PrivacyFilter, WholeFrame


def make_filter(mode: PrivacyMode, cfg: PrivacyConfig, site: SiteConfig) -> PrivacyFilter | None:
    """The filter for ``mode``; ``None`` for the curtain (no camera pixels at all).

    ``people`` and ``faces`` get a ``LayeredFilter``, which loads its face model on a
    background thread and reports ``ready()`` only once warmed up (the stage pixelates whole
    until then). ``off`` is refused by the stage unless the server allows it.
    """
    if mode is PrivacyMode.CURTAIN:
        return None
    if mode is PrivacyMode.OFF:
        return Passthrough()
    if mode in (PrivacyMode.PEOPLE, PrivacyMode.FACES):
        from .layered import LayeredFilter  # onnxruntime is imported only when needed

        return LayeredFilter(mode, cfg, site)
    return WholeFrame(cfg.full_block_px)
