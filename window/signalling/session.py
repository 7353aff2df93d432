"""One WHIP or WHEP session: a peer connection, who opened it, and where it is."""

from __future__ import annotations

import enum
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection

from ..auth.tokens import Grant
from ..media.feed_track import FeedTrack


class SessionKind(enum.StrEnum):
    PUBLISHER = "publisher"
    VIEWER = "viewer"


def new_session_id() -> str:
    """Unguessable: 192 random bits."""
    return secrets.token_urlsafe(24)


@dataclass(eq=False)
class Session:
    kind: SessionKind
    site: str
    pc: RTCPeerConnection
    grant: Grant
    remote: str
    id: str = field(default_factory=new_session_id)
    etag: str = field(default_factory=lambda: '"' + secrets.token_hex(8) + '"')
    created: float = field(default_factory=time.monotonic)
    connected_at: float | None = None
    track: FeedTrack | None = None
    remote_ufrag: str | None = None
    closed: bool = False
    # Remote ICE candidates accepted so far (offer + trickle), against candidates.max_per_session.
    remote_candidates: int = 0
    # Unix time the session ends (its token's exp; /api/renew of the token id moves it).
    expires_at: float = 0.0

    def __post_init__(self) -> None:
        if not self.expires_at:
            self.expires_at = float(self.grant.expires_at)

    @property
    def path(self) -> str:
        prefix = "whip" if self.kind is SessionKind.PUBLISHER else "whep"
        return f"/{prefix}/{self.site}/{self.id}"

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": str(self.kind),
            "site": self.site,
            "role": str(self.grant.role),
            "subject": self.grant.subject,
            "jti": self.grant.jti,
            "remote": self.remote,
            "state": self.pc.connectionState,
            "age_s": round(time.monotonic() - self.created, 1),
        }
        if self.track is not None:
            out.update(packets_sent=self.track.packets_sent, bytes_sent=self.track.bytes_sent,
                       overflows=self.track.overflows)
        return out
