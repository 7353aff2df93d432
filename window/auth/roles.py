"""Roles expand to permissions through one table; site scope is decided in one function."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from ..config import Config


class Role(enum.StrEnum):
    CAMERA = "camera"
    SCREEN = "screen"
    VIEWER = "viewer"
    ADMIN = "admin"
    RELAY = "relay"  # a partner relay pushing its processed feed of one site


class Permission(enum.StrEnum):
    PUBLISH = "publish"  # send a camera feed to a site
    WATCH = "watch"  # receive a site's feed
    EVENTS = "events"  # follow live state changes
    OPERATE = "operate"  # curtain, privacy mode, kick, tokens, audit


ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.CAMERA: frozenset({Permission.PUBLISH}),
    Role.SCREEN: frozenset({Permission.WATCH, Permission.EVENTS}),
    Role.VIEWER: frozenset({Permission.WATCH, Permission.EVENTS}),
    Role.ADMIN: frozenset(Permission),
    Role.RELAY: frozenset({Permission.PUBLISH}),
}

# Roles whose token must name the site they belong to.
SITE_REQUIRED = frozenset({Role.CAMERA, Role.SCREEN, Role.RELAY})


def allowed_site(role: Role, token_site: str | None, target: str, cfg: Config) -> bool:
    """May a token of ``role`` bound to ``token_site`` act on ``target``?"""
    if role is Role.ADMIN:
        return True
    if role in (Role.CAMERA, Role.RELAY):
        return target == token_site
    if role is Role.SCREEN:
        home = cfg.site(token_site or "")
        return home is not None and home.partner == target
    # viewer: its own site if it names one, else any
    return token_site is None or token_site == target
