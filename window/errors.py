"""Every error a client can cause, and the HTTP status it maps to.

Handlers raise these; one middleware (``window.webserver.errors_middleware``) turns them into
a plain-text one-line response and a log line. Nothing else decides statuses.
"""

from __future__ import annotations


class WindowError(Exception):
    """Base class: ``status`` is the HTTP status, ``reason`` the one-line message."""

    status = 500
    headers: dict[str, str]

    def __init__(self, reason: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.headers = dict(headers or {})


class BadRequest(WindowError):
    status = 400


class Unauthorized(WindowError):
    """Missing, malformed, expired, revoked or wrongly signed token."""

    status = 401

    def __init__(self, reason: str) -> None:
        super().__init__(reason, headers={"WWW-Authenticate": 'Bearer realm="window"'})


class Forbidden(WindowError):
    status = 403


class NotFound(WindowError):
    status = 404


class MethodNotAllowed(WindowError):
    status = 405


class Conflict(WindowError):
    """Someone else holds it: the site's camera is live under another token (v2)."""

    status = 409


class PreconditionFailed(WindowError):
    status = 412


class PayloadTooLarge(WindowError):
    status = 413


class UnsupportedMediaType(WindowError):
    status = 415


class UnprocessableEntity(WindowError):
    status = 422


class TooManyRequests(WindowError):
    """This token (or address) holds as many sessions or sockets as it may, or asks again too
    soon: ``Retry-After`` says when trying again makes sense."""

    status = 429

    def __init__(self, reason: str, retry_after: int = 10) -> None:
        super().__init__(reason, headers={"Retry-After": str(max(1, retry_after))})


class NotImplementedByServer(WindowError):
    status = 501


class AtCapacity(WindowError):
    """Too many viewers or sessions: try again later."""

    status = 503

    def __init__(self, reason: str, retry_after: int = 10) -> None:
        super().__init__(reason, headers={"Retry-After": str(retry_after)})


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the offending key."""
