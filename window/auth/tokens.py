"""Minting and verifying access tokens (JWT). Verification allows exactly one algorithm,
requires ``exp``, and checks issuer and audience."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

from ..config import Config
from ..errors import ConfigError, Unauthorized
from .keys import KeySet
from .roles import SITE_REQUIRED, Role


@dataclass(frozen=True)
class Grant:
    """What a verified token says about its holder."""

    role: Role
    site: str | None
    subject: str
    jti: str
    expires_at: int
    # Sessions this token id may hold, if the operator chose at minting (a link shared by a
    # class); None: limits.sessions_per_token of its role.
    max_sessions: int | None = None
    issued_at: int = 0
    # When this id was first issued (renewals keep it); limits how long renewal goes on.
    first_issued: int = 0


def mint(
    cfg: Config,
    keys: KeySet,
    *,
    role: Role,
    ttl_s: int,
    site: str | None = None,
    subject: str = "",
    now: float | None = None,
    jti: str | None = None,
    max_sessions: int | None = None,
    first_issued: int | None = None,
) -> tuple[str, Grant]:
    """A signed token and the grant it carries (``jti``: keep an id, as renewal does)."""
    if keys.signing_key is None:
        raise ConfigError("auth.private_key_file: needed to mint tokens with " + keys.algorithm)
    if role in SITE_REQUIRED and not site:
        raise ConfigError(f"a {role} token needs --site")
    if site is not None and cfg.site(site) is None:
        raise ConfigError(f"unknown site {site!r}; known: {', '.join(sorted(cfg.sites))}")
    issued = int(now if now is not None else time.time())
    # Hex ids: never start with '-', which `window token revoke JTI` would take for a flag.
    if max_sessions is not None and max_sessions < 1:
        raise ConfigError("max_sessions: at least 1")
    grant = Grant(role, site, subject or str(role), jti or secrets.token_hex(12),
                  issued + ttl_s, max_sessions, issued, first_issued or issued)
    claims: dict[str, object] = {
        "iss": cfg.auth.issuer,
        "aud": cfg.auth.audience,
        "iat": issued,
        "nbf": issued,
        "exp": grant.expires_at,
        "jti": grant.jti,
        "sub": grant.subject,
        "role": str(role),
    }
    if site:
        claims["site"] = site
    if max_sessions is not None:
        claims["max_sessions"] = max_sessions
    if grant.first_issued != issued:
        claims["first_iat"] = grant.first_issued
    return jwt.encode(claims, keys.signing_key, algorithm=keys.algorithm), grant


def verify(cfg: Config, keys: KeySet, token: str, *, allow_expired: bool = False) -> Grant:
    """The grant of a valid token; ``Unauthorized`` with a short reason otherwise.

    ``allow_expired``: everything is checked but ``exp`` (a session's owner hanging up after
    its token ran out). Revocation is checked by the caller (``window.auth.guard``), which
    owns the store.
    """
    try:
        claims = jwt.decode(
            token,
            keys.verify_key,
            algorithms=[keys.algorithm],
            audience=cfg.auth.audience,
            issuer=cfg.auth.issuer,
            leeway=cfg.auth.leeway_s,
            options={"require": ["exp", "iss", "aud", "jti", "role"],
                     "verify_exp": not allow_expired},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired") from None
    except jwt.MissingRequiredClaimError as e:
        raise Unauthorized(f"token lacks the {e.claim!r} claim") from None
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
        raise Unauthorized("token is for another service (issuer or audience)") from None
    except jwt.ImmatureSignatureError:
        raise Unauthorized("token not valid yet") from None
    except jwt.InvalidAlgorithmError:
        raise Unauthorized("token signed with a different algorithm") from None
    except jwt.InvalidSignatureError:
        raise Unauthorized("token signature invalid") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("token malformed") from None
    try:
        role = Role(claims["role"])
    except ValueError:
        raise Unauthorized(f"unknown role {claims['role']!r}") from None
    site = claims.get("site")
    if site is not None and not isinstance(site, str):
        raise Unauthorized("token site claim is not a string")
    if role in SITE_REQUIRED and not site:
        raise Unauthorized(f"a {role} token must name its site")
    max_sessions = claims.get("max_sessions")
    if max_sessions is not None and (not isinstance(max_sessions, int) or max_sessions < 1):
        raise Unauthorized("token max_sessions claim is not a positive integer")
    issued = claims.get("iat")
    issued = int(issued) if isinstance(issued, (int, float)) else 0
    first = claims.get("first_iat")
    first = int(first) if isinstance(first, (int, float)) else issued
    return Grant(role, site, str(claims.get("sub", "")), str(claims["jti"]), int(claims["exp"]),
                 max_sessions, issued, first)
