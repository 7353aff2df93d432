"""Sites in time: local clocks and weekly opening hours.

Hours are written per site in its own local time, ``"mon-fri 08:00-22:00"``; a site with no
hours is always open. ``24:00`` ends a day; a span may not cross midnight (write two).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .config import SiteConfig

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_RULE = re.compile(r"^\s*([a-z]{3})(?:-([a-z]{3}))?\s+(\d{2}):(\d{2})-(\d{2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Span:
    weekday: int  # 0 = Monday
    start_min: int
    end_min: int


def parse_hours(rules: list[str]) -> list[Span]:
    spans: list[Span] = []
    for rule in rules:
        m = _RULE.match(rule.lower())
        if not m:
            raise ValueError(f"{rule!r} is not like 'mon-fri 08:00-22:00'")
        d1, d2, h1, m1, h2, m2 = m.groups()
        if d1 not in DAYS or (d2 and d2 not in DAYS):
            raise ValueError(f"{rule!r}: days are {', '.join(DAYS)}")
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
        if int(m1) > 59 or int(m2) > 59 or start >= end or end > 24 * 60:
            raise ValueError(f"{rule!r}: the span must run forward within one day")
        a, b = DAYS.index(d1), DAYS.index(d2 or d1)
        days = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        spans.extend(Span(d, start, end) for d in days)
    return spans


class SiteClock:
    """Local time and opening hours of one site."""

    def __init__(self, name: str, site: SiteConfig) -> None:
        self.name = name
        self.title = site.title or name.capitalize()
        self.zone = ZoneInfo(site.timezone)
        self.spans = parse_hours(site.hours)

    def now(self, at: datetime | None = None) -> datetime:
        return (at or datetime.now(self.zone)).astimezone(self.zone)

    def is_open(self, at: datetime | None = None) -> bool:
        if not self.spans:
            return True
        local = self.now(at)
        minute = local.hour * 60 + local.minute
        return any(
            s.weekday == local.weekday() and s.start_min <= minute < s.end_min
            for s in self.spans
        )

    def next_opening(self, at: datetime | None = None) -> datetime | None:
        """The next local time the site opens, or None if always open / never opens."""
        if not self.spans:
            return None
        local = self.now(at)
        for days_ahead in range(8):
            day = (local + timedelta(days=days_ahead)).date()
            starts = sorted(s.start_min for s in self.spans if s.weekday == day.weekday())
            for start in starts:
                naive = datetime.combine(day, time(start // 60, start % 60))
                candidate = naive.replace(tzinfo=self.zone)
                if candidate > local:
                    return candidate
        return None
