"""Retention: the relay prunes its store by itself, at start and every ``retention.every``.

What goes (``Store.prune``): audit log entries older than ``retention.audit_log`` (400 days
by default; ``forever`` keeps them), and revoked token ids once the token they name has expired
more than ``auth.leeway_s`` ago (a token whose expiry is not known: ``auth.max_ttl`` after its
revocation). Every pass logs one line with what it deleted; a pass that deleted audit entries
leaves one ``audit.pruned`` entry saying how many and up to when, so the log itself shows
that it was shortened by policy. ``docs/operations.md`` lists what is kept and how long.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .config import Config
from .durations import parse_duration
from .store import Pruned, Store

log = logging.getLogger("window.retention")


def audit_keep_s(cfg: Config) -> int | None:
    """Seconds audit entries are kept; ``None`` for ever."""
    keep = cfg.retention.audit_log
    return None if keep == "forever" else parse_duration(keep)


def prune_once(store: Store, cfg: Config, now: float | None = None) -> Pruned:
    """One pass (blocking: call it from a worker thread)."""
    pruned = store.prune(audit_keep_s=audit_keep_s(cfg), leeway_s=cfg.auth.leeway_s,
                         unknown_expiry_s=parse_duration(cfg.auth.max_ttl), now=now)
    if pruned.audit:
        store.audit("relay", "audit.pruned", "", {
            "entries": pruned.audit, "before": round(pruned.audit_before or 0),
            "kept": cfg.retention.audit_log})
    log.info("retention pass", extra={
        "audit_deleted": pruned.audit, "revoked_dropped": pruned.revoked,
        "audit_kept": cfg.retention.audit_log,
        "audit_before": (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(pruned.audit_before))
                         if pruned.audit_before is not None else "")})
    return pruned


async def run(store: Store, cfg: Config) -> None:
    """Prune now, then every ``retention.every``, until cancelled. A failed pass is logged
    and retried next time: retention must never take the relay down."""
    every = parse_duration(cfg.retention.every)
    while True:
        try:
            await asyncio.to_thread(prune_once, store, cfg)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention pass failed; next try in %s", cfg.retention.every)
        await asyncio.sleep(every)
