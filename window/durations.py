"""Durations as people write them: ``30s``, ``15m``, ``12h``, ``30d``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")


def parse_duration(text: str) -> int:
    """Seconds in ``text``; raises ``ValueError`` with a readable reason."""
    m = _PATTERN.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 12h or 30d")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds
