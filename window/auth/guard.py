"""The guard at the edge: every request that needs a permission passes through ``check``.

The token check is this one small interface; handlers never parse tokens themselves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..config import Config
from ..errors import Forbidden, Unauthorized
from ..store import Store
from .keys import KeySet
from .roles import ROLE_PERMISSIONS, Permission, allowed_site
from .tokens import Grant, verify

log = logging.getLogger("window.auth")


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthorized("missing Authorization: Bearer token")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return token.strip()


class Guard:
    def __init__(self, cfg: Config, keys: KeySet, store: Store) -> None:
        self.cfg = cfg
        self.keys = keys
        self.store = store
        self._revoked: set[str] = store.revoked_ids()
        self._version = store.data_version()
        self.rejections: dict[str, int] = {}

    def grant(self, token: str) -> Grant:
        """Verify ``token`` (signature, claims, revocation) or raise ``Unauthorized``."""
        try:
            grant = verify(self.cfg, self.keys, token)
            if grant.jti in self._revoked:
                raise Unauthorized("token revoked")
        except Unauthorized as e:
            self.rejections[e.reason] = self.rejections.get(e.reason, 0) + 1
            raise
        return grant

    def grant_of_owner(self, token: str) -> Grant:
        """Like ``grant`` but an expired token still counts: its holder may hang up its own
        sessions (the signature, issuer, audience and revocation are still checked)."""
        try:
            return self.grant(token)
        except Unauthorized as e:
            if e.reason != "token expired":
                raise
        grant = verify(self.cfg, self.keys, token, allow_expired=True)
        if grant.jti in self._revoked:
            raise Unauthorized("token revoked")
        return grant

    def check(self, token: str, permission: Permission, site: str | None = None) -> Grant:
        """The grant, if ``token`` is valid and allows ``permission`` on ``site``."""
        return self.allow(self.grant(token), permission, site)

    def allow(self, grant: Grant, permission: Permission, site: str | None = None) -> Grant:
        """``grant`` itself if it allows ``permission`` on ``site``; ``Forbidden`` if not."""
        if permission not in ROLE_PERMISSIONS[grant.role]:
            raise Forbidden(f"a {grant.role} token may not {permission}")
        if site is not None and not allowed_site(grant.role, grant.site, site, self.cfg):
            raise Forbidden(f"this {grant.role} token may not {permission} site {site!r}")
        return grant

    def check_request(self, request: web.Request, permission: Permission,
                      site: str | None = None) -> Grant:
        return self.check(bearer_token(request), permission, site)

    def mark_revoked(self, jti: str) -> None:
        self._revoked.add(jti)

    async def watch_revocations(
        self, on_revoked: Callable[[str], Awaitable[object]] | None = None,
        interval_s: float = 2.0,
    ) -> None:
        """Pick up revocations written by other processes (``window token revoke``) and call
        ``on_revoked`` for each new one, so its open sessions end too."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                version = await asyncio.to_thread(self.store.data_version)
                if version == self._version:
                    continue
                self._version = version
                revoked = await asyncio.to_thread(self.store.revoked_ids)
                new = revoked - self._revoked
                self._revoked = revoked
                for jti in sorted(new):
                    log.info("token revoked elsewhere", extra={"jti": jti})
                    if on_revoked is not None:
                        await on_revoked(jti)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep guarding with what we know
                log.exception("reading revocations failed")
