"""Shared by the operators' API and the live-events socket: what a site looks like now."""

from __future__ import annotations

from typing import Any

from .. import i18n
from ..auth.tokens import Grant
from ..relay import Relay


def site_summary(relay: Relay, name: str) -> dict[str, Any]:
    """A site as pages show it: name, clock, hours, state, privacy mode, viewer count."""
    site = relay.cfg.sites[name]
    clock = relay.clocks[name]
    feed = relay.feed(name)
    opening = clock.next_opening()
    return {
        "site": name,
        "title": clock.title,
        "timezone": site.timezone,
        "partner": site.partner or None,
        "hours": list(site.hours),
        "open": clock.is_open(),
        "next_opening": opening.isoformat() if opening is not None else None,
        "state": str(feed.state()),
        "mode": str(feed.privacy.mode),
        "paused": feed.paused,
        "camera": feed.publisher_id is not None,
        "viewers": len(relay.viewers_of(name)),
        "language": site.language,
        "titles": i18n.titles(name, site),
    }


def actor_of(grant: Grant) -> str:
    """Who did it, as the audit log records it: the token's subject and id."""
    return f"{grant.subject}#{grant.jti}"
