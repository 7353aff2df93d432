"""Checks of the configuration that span keys: site names and partners, time zones, sizes,
languages, pushes, the audience tier and the limits. ``config.load`` runs ``validate`` on
every configuration it builds; a failed check raises ``ConfigError`` with the dotted key.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .config import LANGUAGES, SITE_NAME, Config, PushConfig, SiteConfig, TierConfig
from .errors import ConfigError


def _validate_language(name: str, site: SiteConfig) -> None:
    languages = ", ".join(LANGUAGES)
    if site.language not in LANGUAGES:
        raise ConfigError(f"sites.{name}.language: {site.language!r} is not one of {languages}")
    for lang, text in site.titles.items():
        if lang not in LANGUAGES:
            raise ConfigError(f"sites.{name}.titles.{lang}: not one of {languages}")
        if not text.strip():
            raise ConfigError(f"sites.{name}.titles.{lang}: empty")


def validate(cfg: Config) -> None:
    """Checks that span keys: names, partners, time zones, sizes."""
    if not cfg.sites:
        raise ConfigError("sites: at least one site is needed")
    for name, site in cfg.sites.items():
        if not SITE_NAME.match(name):
            raise ConfigError(f"sites.{name}: site names are lowercase [a-z0-9-]+")
        if site.partner and site.partner not in cfg.sites:
            raise ConfigError(f"sites.{name}.partner: unknown site {site.partner!r}")
        try:
            ZoneInfo(site.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"sites.{name}.timezone: unknown time zone {site.timezone!r}") from None
        from .sites import parse_hours  # local: sites imports config

        try:
            parse_hours(site.hours)
        except ValueError as e:
            raise ConfigError(f"sites.{name}.hours: {e}") from None
        for i, zone in enumerate(site.zones):
            if len(zone) < 3 or any(len(p) != 2 or not all(0 <= c <= 1 for c in p)
                                    for p in zone):
                raise ConfigError(
                    f"sites.{name}.zones[{i}]: a zone is 3 or more [x, y] points in 0..1")
        _validate_tier(name, site.tier)
        _validate_language(name, site)
        validate_pushes(name, site.push)
    if cfg.auth.algorithm not in ("HS256", "EdDSA", "ES256"):
        raise ConfigError(f"auth.algorithm: {cfg.auth.algorithm!r} is not HS256, EdDSA or ES256")
    if cfg.auth.algorithm != "HS256" and not cfg.auth.public_key_file:
        raise ConfigError(f"auth.public_key_file: required for {cfg.auth.algorithm}")
    m = cfg.media
    if m.width % 2 or m.height % 2 or not (16 <= m.width <= 3840 and 16 <= m.height <= 2160):
        raise ConfigError("media.width/height: even numbers from 16x16 to 3840x2160")
    if not 1 <= m.fps <= 60:
        raise ConfigError("media.fps: 1 to 60")
    if not 1 <= m.slate_fps <= m.fps:
        raise ConfigError("media.slate_fps: 1 to media.fps")
    if not 0 <= m.repair_wait_ms <= 10_000:
        raise ConfigError("media.repair_wait_ms: 0 (aiortc's own) to 10000")
    if not 0 <= cfg.server.port <= 65535:
        raise ConfigError("server.port: 0 (any free port) to 65535")
    # Smaller blocks would let identifiable detail through every fail-closed path.
    for key in ("full_block_px", "block_px"):
        if getattr(cfg.privacy, key, 16) < 16:
            raise ConfigError(f"privacy.{key}: at least 16 pixels, or faces stay recognisable")
    p = cfg.privacy
    for key, low in (("hold_frames", 1), ("motion_hold_frames", 1), ("motion_pad_blocks", 0),
                     ("detect_every", 1), ("closeup_hold_frames", 0)):
        if getattr(p, key) < low:
            raise ConfigError(f"privacy.{key}: at least {low}")
    for key in ("box_margin", "closeup_share", "closeup_motion_share", "face_threshold",
                "small_face_threshold"):
        if not 0 <= getattr(p, key) <= 1:
            raise ConfigError(f"privacy.{key}: 0 to 1")
    for i, url in enumerate(cfg.turn.urls):
        if not url.startswith(("turn:", "turns:", "stun:", "stuns:")):
            raise ConfigError(f"turn.urls[{i}]: {url!r} is not a turn:, turns: or stun: URL")
    if any(u.startswith("turn") for u in cfg.turn.urls) and not cfg.turn.secret:
        raise ConfigError("turn.secret: needed to mint credentials for the TURN urls")
    if not 0.5 <= cfg.audit.fps <= cfg.audit.burst_fps <= 30 or cfg.audit.burst_s < 0:
        raise ConfigError("audit.fps: 0.5 up to audit.burst_fps, at most 30; audit.burst_s: "
                          "0 or more")
    if not 64 <= cfg.audit.width <= 3840:
        raise ConfigError("audit.width: 64 to 3840")
    if not 0 < cfg.audit.threshold <= 1 or cfg.audit.hits < 1:
        raise ConfigError("audit.threshold: above 0 up to 1; audit.hits: at least 1")
    if cfg.log.level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError("log.level: debug, info, warning or error")
    if cfg.log.format not in ("auto", "json", "text"):
        raise ConfigError("log.format: auto, json or text")
    from .durations import parse_duration

    for key in ("default_ttl", "max_ttl"):
        try:
            parse_duration(getattr(cfg.auth, key))
        except ValueError as e:
            raise ConfigError(f"auth.{key}: {e}") from None
    if cfg.auth.renew_max_age:
        try:
            parse_duration(cfg.auth.renew_max_age)
        except ValueError as e:
            raise ConfigError(f"auth.renew_max_age: {e}") from None
    for key in ("audit_log", "every"):
        value = getattr(cfg.retention, key)
        if key == "audit_log" and value == "forever":
            continue
        try:
            parse_duration(value)
        except ValueError as e:
            raise ConfigError(f"retention.{key}: {e}") from None
    _validate_limits(cfg)


def _validate_limits(cfg: Config) -> None:
    import ipaddress

    from .auth.roles import Role  # local: roles imports config

    lim = cfg.limits
    roles = {str(r) for r in Role}
    for role, n in lim.sessions_per_token.items():
        if role not in roles:
            raise ConfigError(f"limits.sessions_per_token.{role}: unknown role")
        if n < 1:
            raise ConfigError(f"limits.sessions_per_token.{role}: at least 1")
    if not 0 <= lim.reserved_per_site < cfg.server.max_viewers_per_site:
        raise ConfigError("limits.reserved_per_site: 0 to server.max_viewers_per_site - 1")
    if not 0 <= lim.reserved_total < cfg.server.max_sessions_total:
        raise ConfigError("limits.reserved_total: 0 to server.max_sessions_total - 1")
    for key in ("events_sockets_total", "events_sockets_per_address"):
        if getattr(lim, key) < 1:
            raise ConfigError(f"limits.{key}: at least 1")
    if not 0.5 <= lim.events_auth_timeout_s <= 60:
        raise ConfigError("limits.events_auth_timeout_s: 0.5 to 60 seconds")
    if not 1024 <= lim.events_max_message_bytes <= 1 << 20:
        raise ConfigError("limits.events_max_message_bytes: 1024 to 1048576")
    c = cfg.candidates
    if not 1 <= c.max_per_offer <= c.max_per_session:
        raise ConfigError("candidates.max_per_offer: 1 to candidates.max_per_session")
    if not 0 <= c.min_port <= 65535:
        raise ConfigError("candidates.min_port: 0 to 65535")
    for key in ("allow", "deny"):
        for i, net in enumerate(getattr(c, key)):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(f"candidates.{key}[{i}]: {net!r} is not an address range "
                                  "such as 10.0.0.0/8") from None
    if not re.fullmatch(r"[\w'*:/.\- ]+", cfg.pages.frame_ancestors):
        raise ConfigError("pages.frame_ancestors: a CSP source list such as 'none' or 'self'")


def _validate_tier(name: str, tier: TierConfig) -> None:
    key = f"sites.{name}.tier"
    if tier.use not in ("always", "overflow", "off"):
        raise ConfigError(f"{key}.use: always, overflow or off")
    if tier.handoff not in ("proxy", "redirect"):
        raise ConfigError(f"{key}.handoff: proxy or redirect")
    for i, url in enumerate(tier.whep_urls):
        if not re.fullmatch(r"https?://[^\s;,'\"]+", url):
            raise ConfigError(f"{key}.whep_urls[{i}]: {url!r} is not an http(s) URL")
    if tier.whep_urls and not (tier.token or tier.token_file):
        raise ConfigError(f"{key}.token: the tier needs its own credential (token or "
                          "token_file); a tier without one would be an open door to the feed")
    if tier.token and tier.token_file:
        raise ConfigError(f"{key}: token or token_file, not both")
    if not 5 <= tier.ticket_ttl_s <= 600:
        raise ConfigError(f"{key}.ticket_ttl_s: 5 to 600")
    if not 0.5 <= tier.timeout_s <= 30:
        raise ConfigError(f"{key}.timeout_s: 0.5 to 30")


def validate_pushes(site: str, pushes: list[PushConfig]) -> None:
    """A push needs an http(s) URL and exactly one of ``token`` and ``token_file``."""
    import urllib.parse

    for i, push in enumerate(pushes):
        key = f"sites.{site}.push[{i}]"
        url = urllib.parse.urlsplit(push.url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ConfigError(f"{key}.url: an http:// or https:// WHIP endpoint, got "
                              f"{push.url!r}")
        if bool(push.token) == bool(push.token_file):
            raise ConfigError(f"{key}: set exactly one of token and token_file")
