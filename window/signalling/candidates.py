"""Which remote ICE candidates the relay will check: the relay is not a scanner.

Every ``a=candidate`` line a client hands the relay (in its offer, before
``setRemoteDescription``, and in trickle ``PATCH`` fragments) passes ``CandidateFilter``; what
it drops never gets a STUN packet from the relay. Dropped always: multicast, link-local,
unspecified and broadcast addresses, ports below ``candidates.min_port``, DNS names (the relay
resolves nothing a client names) and anything over ``candidates.max_per_offer`` per offer or
``candidates.max_per_session`` over a session's life. Then ``candidates.allow`` (empty: any
address) and ``candidates.deny`` (CIDR lists) decide. mDNS ``.local`` names, which real
browsers send instead of their addresses, are kept (they count against the caps).

The default keeps loopback and LAN peers working (a kiosk may stand on the relay's LAN); the
production setting that keeps the relay's own networks out is in ``docs/deployment.md``.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from ..config import CandidatesConfig

log = logging.getLogger("window.candidates")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

BROADCAST = ipaddress.IPv4Address("255.255.255.255")


@dataclass
class Filtered:
    """An offer with its candidates filtered, and how many were kept and dropped."""

    sdp: str
    kept: int
    dropped: int


def _address_of(line: str) -> tuple[str, int] | None:
    """(address, port) of an ``a=candidate:`` / ``candidate:`` line; None if malformed."""
    text = line[2:] if line.startswith("a=") else line
    parts = text.split()
    if len(parts) < 8 or not parts[0].startswith("candidate:") or parts[6] != "typ":
        return None
    try:
        return parts[4], int(parts[5])
    except ValueError:
        return None


class CandidateFilter:
    def __init__(self, cfg: CandidatesConfig) -> None:
        self.cfg = cfg
        self.allow: list[Network] = [ipaddress.ip_network(n, strict=False) for n in cfg.allow]
        self.deny: list[Network] = [ipaddress.ip_network(n, strict=False) for n in cfg.deny]
        self.dropped = 0  # over the relay's life, for /metrics

    def why_not(self, line: str) -> str | None:
        """Why the relay will not check this candidate; None: it may."""
        parsed = _address_of(line)
        if parsed is None:
            return "malformed"
        host, port = parsed
        if not self.cfg.min_port <= port <= 65535:
            return "port"
        if host.lower().endswith(".local"):
            return None  # a browser's mDNS name: resolved on the LAN only
        try:
            addr: Address = ipaddress.ip_address(host)
        except ValueError:
            return "not an address"
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        if addr.is_multicast or addr.is_link_local or addr.is_unspecified or addr == BROADCAST:
            return "never checked"
        if self.allow and not any(addr in net for net in self.allow):
            return "not allowed"
        if any(addr in net for net in self.deny):
            return "denied"
        return None

    def filter_offer(self, sdp: str, already: int = 0) -> Filtered:
        """``sdp`` without the candidate lines the relay will not check. Bundled media
        sections repeat the same candidates: a repeat is kept but not counted again."""
        out: list[str] = []
        seen: set[str] = set()
        kept = dropped = 0
        budget = min(self.cfg.max_per_offer, max(0, self.cfg.max_per_session - already))
        newline = "\r\n" if "\r\n" in sdp else "\n"
        for line in sdp.splitlines():
            if line.startswith("a=candidate:"):
                key = " ".join(line.split()[2:6])  # transport, priority, address, port
                if key in seen:
                    out.append(line)
                    continue
                if kept >= budget or self.why_not(line) is not None:
                    dropped += 1
                    continue
                seen.add(key)
                kept += 1
            out.append(line)
        self.dropped += dropped
        return Filtered(newline.join(out) + newline, kept, dropped)
