"""What a privacy filter is.

A filter sees every frame of one feed, in order, on one worker thread (so it may keep state
such as tracks or a background model) and returns the frame with people made unidentifiable.
It never runs on the event loop. ``PrivacyStage`` wraps it with a deadline and fails closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .pixelate import Image, pixelate_whole


@dataclass
class FilterResult:
    image: Image
    faces: int = 0  # faces found in this frame
    regions: int = 0  # moving regions found in this frame
    blurred_share: float = 1.0  # share of the frame area blurred, 0..1
    whole: bool = False  # the filter itself blurred the whole frame (close-up guard)
    whole_reason: str = ""


class PrivacyFilter(Protocol):
    name: str

    def ready(self) -> bool:
        """False until models are loaded and warmed up; the stage blurs whole until then."""
        ...

    def apply(self, image: Image) -> FilterResult:
        """Called on a worker thread, one frame at a time. May modify ``image``."""
        ...

    def close(self) -> None: ...


class WholeFrame:
    """Pixelates the whole frame: the strongest mode, and the fail-closed fallback."""

    name = "full"

    def __init__(self, block: int) -> None:
        self.block = block

    def ready(self) -> bool:
        return True

    def apply(self, image: Image) -> FilterResult:
        return FilterResult(pixelate_whole(image, self.block), whole=True, whole_reason="mode")

    def close(self) -> None:
        pass


class Passthrough:
    """No privacy at all. Only reachable with `window serve --dev-allow-privacy-off`."""

    name = "off"

    def ready(self) -> bool:
        return True

    def apply(self, image: Image) -> FilterResult:
        return FilterResult(image, blurred_share=0.0)

    def close(self) -> None:
        pass
