"""Trickle-ICE SDP fragments (RFC 8840), as WHIP/WHEP clients PATCH them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SdpFrag:
    ufrag: str | None = None
    pwd: str | None = None
    # (mid, candidate line without "a=")
    candidates: list[tuple[str | None, str]] = field(default_factory=list)
    end_of_candidates: bool = False


def parse_sdpfrag(text: str) -> SdpFrag:
    frag = SdpFrag()
    mid: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("a=ice-ufrag:"):
            frag.ufrag = line.split(":", 1)[1]
        elif line.startswith("a=ice-pwd:"):
            frag.pwd = line.split(":", 1)[1]
        elif line.startswith("m="):
            mid = None
        elif line.startswith("a=mid:"):
            mid = line.split(":", 1)[1]
        elif line.startswith("a=candidate:"):
            frag.candidates.append((mid, line[2:]))
        elif line == "a=end-of-candidates":
            frag.end_of_candidates = True
    return frag
