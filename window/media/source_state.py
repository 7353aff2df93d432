"""The origin's state of a pushed feed, told to the receiving relay (a small WHIP extension).

What a push carries is the origin feed's picture, slates included: while the camera at the
origin is away, the partner relay receives the origin's "camera offline" slate as a live
stream and, knowing nothing else, would call its feed ``live``. So the receiving relay
offers an extension in the RFC 9725 way (section 4.9: advertised by a ``Link`` header in
the ``201`` of the WHIP session; unknown extensions are ignored by clients): for a
publisher of role ``relay``,

    Link: </whip/{site}/{session}/state>; rel="urn:x-window:whip-ext:source-state"

and the pushing relay ``PUT``s ``{"state": "live" | "offline" | "paused" | "closed"}``
there (its bearer token, JSON) after connecting and whenever its feed's state changes
(checked twice a second, resent every ``REFRESH_S``). The receiving relay then reports
that state for the feed (``/healthz``, ``/api/status``, ``/events``, metrics) and shows
its own slate for it, in its own languages, instead of forwarding the origin's. A state
can only take a feed *out of* ``live``, never into it (the receiving relay's own rules,
curtain and hours stay first), and the audit keeps sampling whatever arrives.

A push to any other WHIP endpoint finds no such link and sends nothing.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from typing import Any

import aiohttp

from ..signalling.ice_servers import link_targets

log = logging.getLogger("window.push")

REL = "urn:x-window:whip-ext:source-state"
# Origin states a receiving relay takes over ("stopping": the origin shuts down).
STATES = {"live": "live", "offline": "offline", "paused": "paused", "closed": "closed",
          "stopping": "offline"}
REFRESH_S = 30.0


def state_link(session_path: str) -> str:
    """The ``Link`` header value a receiving relay adds to a relay publisher's ``201``."""
    return f'<{session_path}/state>; rel="{REL}"'


def parse_state(body: Any) -> str:
    """The origin state in a ``PUT`` body, as this relay names it; ValueError if none."""
    state = body.get("state") if isinstance(body, dict) else None
    if not isinstance(state, str) or state not in STATES:
        raise ValueError(f"state: one of {', '.join(sorted(STATES))}")
    return STATES[state]


class StateReporter:
    """The pushing side: sends the feed's state to the session's extension URL, if any."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.sent: str | None = None
        self._sent_at = 0.0
        self.failures = 0

    def start(self, location: str | None, links: list[str]) -> None:
        """A new session (its ``Location`` and the ``Link`` values of its ``201``)."""
        targets = link_targets(links, REL)
        self.url = (urllib.parse.urljoin(location, targets[0])
                    if targets and location else None)
        self.sent = None

    async def report(self, http: aiohttp.ClientSession, state: str,
                     headers: dict[str, str]) -> None:
        """Send ``state`` if it changed (or is due for a refresh); failures are retried at
        the next call."""
        now = time.monotonic()
        if self.url is None or (state == self.sent and now - self._sent_at < REFRESH_S):
            return
        try:
            async with http.put(self.url, json={"state": state}, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=3.0)) as resp:
                ok = resp.status < 300
        except (aiohttp.ClientError, TimeoutError, OSError):
            ok = False
        if ok:
            self.sent, self._sent_at = state, now
        else:
            self.failures += 1
            if self.failures in (1, 10, 100):
                log.warning("could not tell the partner the feed's state",
                            extra={"state": state, "failures": self.failures})
