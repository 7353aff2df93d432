"""Who may open one more media session: the caps that keep one token from denying others.

Every WHIP/WHEP offer passes ``Admission.admit`` before the relay spends anything on it:

* **per token id**: open and pending sessions of one token (``limits.sessions_per_token`` by
  role, or the token's own ``max_sessions`` claim); beyond: ``429`` with ``Retry-After``.
  Offers still being answered count too, so a burst of parallel POSTs cannot slip past.
* **per site and in total**: viewer sessions, with ``limits.reserved_per_site`` and
  ``limits.reserved_total`` of them kept for screens and admins (viewer tokens never get
  them); beyond: ``503``. Publisher sessions (cameras, and relays that publish like one) are
  not counted in ``server.max_sessions_total``, so viewers can never lock a camera out.
* **one publisher per site** (``takeover``): a new publisher session replaces the current one
  at once if it comes from the same token id or an admin; from another token only once the
  current publisher has been silent for ``media.camera_timeout_s``, else ``409``.

Viewers handed to the audience tier (``signalling.tier``) pass the per-token cap like any
other offer (``admit(..., capacity=False)``): by proxy they keep counting against their token
while they are open (``elsewhere``, the tier's count per token id); by redirect (``307``)
while the tier reports the session their single-use ticket opened, or the ticket may still be
used. They never take a relay slot, so the site and total caps do not apply to them.

Every refusal is logged, counted by reason (``window_sessions_refused_total``) and kept in a
short list of recent ones for operators (``/api/status``, the admin page).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..auth.roles import Role
from ..auth.tokens import Grant
from ..config import Config
from ..errors import AtCapacity, Conflict, TooManyRequests, WindowError
from .session import Session, SessionKind

log = logging.getLogger("window.admission")

RECENT = 50  # refusals kept for operators
LOG_EVERY_S = 60.0  # one log line per token id and reason this often, however hard it tries
# Roles that get the reserved viewer slots.
RESERVED_FOR = frozenset({Role.SCREEN, Role.ADMIN})


class Admission:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._inflight: collections.Counter[str] = collections.Counter()  # jti -> offers
        self._inflight_viewers: collections.Counter[str] = collections.Counter()  # site -> n
        self.refused: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT)
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}  # -> (when, suppressed)
        # Sessions a token id holds outside the relay (the audience tier's, by proxy).
        self.elsewhere: Callable[[str], int] = lambda jti: 0

    def cap_of(self, grant: Grant) -> int:
        if grant.max_sessions is not None:
            return grant.max_sessions
        return self.cfg.limits.sessions_per_token.get(str(grant.role), 2)

    @contextlib.contextmanager
    def admit(self, kind: SessionKind, site: str, grant: Grant, remote: str,
              sessions: Iterable[Session], replacing: Session | None = None,
              capacity: bool = True) -> Iterator[None]:
        """Hold a slot for an offer being answered; raise if there is none.

        ``replacing``: the session this one will replace (the token's own camera session),
        which does not count against the token's cap. ``capacity=False``: only the token's
        cap applies (a viewer handed to the audience tier takes no relay slot).
        """
        counted = capacity and kind is SessionKind.VIEWER
        try:
            self._check(kind, site, grant, list(sessions), replacing, capacity)
        except WindowError as e:
            self.note_refusal(_reason(e), site, grant, remote, e.reason)
            raise
        self._inflight[grant.jti] += 1
        if counted:
            self._inflight_viewers[site] += 1
        try:
            yield
        finally:
            self._inflight[grant.jti] -= 1
            if self._inflight[grant.jti] <= 0:
                del self._inflight[grant.jti]
            if counted:
                self._inflight_viewers[site] -= 1
                if self._inflight_viewers[site] <= 0:
                    del self._inflight_viewers[site]

    def _check(self, kind: SessionKind, site: str, grant: Grant, sessions: list[Session],
               replacing: Session | None, capacity: bool = True) -> None:
        server = self.cfg.server
        own = sum(1 for s in sessions if s.grant.jti == grant.jti and s is not replacing)
        own += self._inflight[grant.jti] + self.elsewhere(grant.jti)
        cap = self.cap_of(grant)
        if own >= cap:
            raise TooManyRequests(
                f"this token already holds {cap} session{'s' if cap > 1 else ''}; "
                "hang one up (DELETE) or try again later",
                retry_after=int(server.connect_timeout_s))
        if kind is not SessionKind.VIEWER or not capacity:
            return
        full = self.no_room(site, grant, sessions)
        if full is not None:
            raise full

    def no_room(self, site: str, grant: Grant, sessions: Iterable[Session]
                ) -> AtCapacity | None:
        """Why one more viewer of ``site`` under ``grant`` would be refused (503), or None."""
        server, limits = self.cfg.server, self.cfg.limits
        reserved = grant.role not in RESERVED_FOR
        viewers = [s for s in sessions if s.kind is SessionKind.VIEWER]
        at_site = sum(1 for s in viewers if s.site == site) + self._inflight_viewers[site]
        limit = server.max_viewers_per_site - (limits.reserved_per_site if reserved else 0)
        if at_site >= limit:
            return AtCapacity(f"site {site!r} has its maximum of viewers; try again soon")
        total = len(viewers) + sum(self._inflight_viewers.values())
        limit = server.max_sessions_total - (limits.reserved_total if reserved else 0)
        if total >= limit:
            return AtCapacity("the relay is at its session limit; try again soon")
        return None

    def takeover(self, site: str, grant: Grant, remote: str, current: Session | None,
                 last_frame_at: float) -> None:
        """May ``grant`` replace ``current``, the site's publisher? ``Conflict`` if not."""
        if current is None or current.grant.jti == grant.jti or grant.role is Role.ADMIN:
            return
        silent_s = time.monotonic() - max(current.created, last_frame_at)
        timeout = self.cfg.media.camera_timeout_s
        if silent_s < timeout:
            e = Conflict(f"site {site!r} has a live camera under another token; it may be "
                         f"replaced once it has been silent for {timeout:g} s",
                         headers={"Retry-After": str(max(1, math.ceil(timeout - silent_s)))})
            self.note_refusal("camera_live", site, grant, remote, e.reason,
                              current=current.grant.jti)
            raise e

    def note_refusal(self, reason: str, site: str, grant: Grant, remote: str, text: str,
                     **detail: str) -> None:
        self.refused[(reason, site, str(grant.role))] += 1
        entry = {"at": round(time.time(), 1), "reason": reason, "site": site,
                 "role": str(grant.role), "subject": grant.subject, "jti": grant.jti,
                 "remote": remote, "detail": text, **detail}
        self.recent.append(entry)
        # A flood of refusals is not a flood of log lines: the first, then one a minute.
        key, now = (reason, grant.jti), time.monotonic()
        last, suppressed = self._logged.get(key, (float("-inf"), 0))
        if now - last < LOG_EVERY_S:
            self._logged[key] = (last, suppressed + 1)
            return
        if len(self._logged) > 10_000:
            self._logged = {k: v for k, v in self._logged.items() if now - v[0] < LOG_EVERY_S}
        self._logged[key] = (now, 0)
        log.warning("session refused", extra={**{k: v for k, v in entry.items() if k != "at"},
                                              "since_last_line": suppressed})

    def summary(self) -> dict[str, Any]:
        """For operators: refusals by reason, and the latest ones (newest first)."""
        by_reason: collections.Counter[str] = collections.Counter()
        for (reason, _site, _role), n in self.refused.items():
            by_reason[reason] += n
        return {"by_reason": dict(by_reason), "recent": list(reversed(self.recent))[:20]}


def _reason(e: WindowError) -> str:
    if isinstance(e, TooManyRequests):
        return "token_limit"
    if isinstance(e, AtCapacity):
        return "at_capacity"
    return type(e).__name__.lower()
