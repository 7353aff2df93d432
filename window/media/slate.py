"""The slate: a calm still picture that says whose window this is and why it is not live.

Contains no camera pixels. Rendered with OpenCV on a worker thread and cached per minute.
"""

from __future__ import annotations

from datetime import datetime

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]

MESSAGES = {
    "offline": "The camera is offline - back soon",
    "paused": "Paused by the operators",
    "closed": "Closed - outside opening hours",
    "starting": "Starting",
    "stopping": "The window is closing for maintenance",
}


def _centered(img: Image, text: str, y: int, scale: float, color: tuple[int, int, int],
              thickness: int) -> None:
    font = cv2.FONT_HERSHEY_DUPLEX
    (tw, _), _ = cv2.getTextSize(text, font, scale, thickness)
    x = max(0, (img.shape[1] - tw) // 2)
    cv2.putText(img, text, (x, y), font, scale, color, thickness, cv2.LINE_AA)


def render_slate(width: int, height: int, title: str, reason: str, local: datetime,
                 detail: str = "") -> Image:
    """A BGR slate: the site's name, the reason, and the site's local time."""
    img = np.zeros((height, width, 3), np.uint8)
    # a quiet vertical gradient, dark blue to near black
    ramp = np.linspace(70, 18, height, dtype=np.float32)[:, None]
    img[:, :, 0] = ramp.astype(np.uint8)
    img[:, :, 1] = (ramp * 0.55).astype(np.uint8)
    img[:, :, 2] = (ramp * 0.35).astype(np.uint8)
    s = height / 720
    _centered(img, title, int(height * 0.38), 2.6 * s, (240, 240, 240), max(1, int(3 * s)))
    _centered(img, MESSAGES.get(reason, reason), int(height * 0.52), 1.2 * s,
              (200, 210, 220), max(1, int(2 * s)))
    clock = local.strftime("%H:%M") + "  " + local.strftime("%a %d %b") + "  " + (
        local.tzname() or "")
    _centered(img, clock, int(height * 0.64), 1.0 * s, (170, 190, 205), max(1, int(2 * s)))
    if detail:
        _centered(img, detail, int(height * 0.73), 0.8 * s, (150, 170, 185), max(1, int(s)))
    return img


class SlateCache:
    """Keeps the current slate, re-rendering only when its text changes (once a minute)."""

    def __init__(self, width: int, height: int, title: str) -> None:
        self.width, self.height, self.title = width, height, title
        self._key: tuple[str, str, str] | None = None
        self._image: Image | None = None

    def get(self, reason: str, local: datetime, detail: str = "") -> Image:
        key = (reason, local.strftime("%Y%m%d%H%M"), detail)
        if key != self._key or self._image is None:
            self._image = render_slate(self.width, self.height, self.title, reason, local, detail)
            self._key = key
        return self._image
