"""A user-space impaired network link for tests and benchmarks (netem is not available here).

``ImpairedLink`` is a pair of UDP sockets that sits between two WebRTC peers like a NAT: the
client (a WHEP viewer, a WHIP camera or a pushing relay) sends to the link's client-facing
socket, the link forwards from its server-facing socket to the server's real candidate, and
back. Each direction applies an ``Impairment``: fixed delay, jitter (uniform ± like netem,
with or without reordering), random loss, burst loss (a Gilbert–Elliott channel), extra
reordering, duplication, and a switchable outage; and counts what it did (``Counters``).

``ImpairedSignalling`` puts links into the real media path of real peers: an HTTP proxy in
front of a relay's WHIP/WHEP endpoints that, for every ``POST`` offer, opens a new link and
rewrites the candidates of the offer (to the link's server-facing address) and of the answer
(to its client-facing address). Neither ICE agent learns the other's real address, so every
STUN check, DTLS record, RTP and RTCP packet crosses the link. ``PATCH``/``DELETE`` and any
other request are forwarded unchanged. Point the client at ``proxy.url`` instead of the relay.

Use from a benchmark by putting ``tests/`` on ``sys.path``::

    link = Impairment(delay_ms=125, jitter_ms=15, loss=0.01)
    async with ImpairedSignalling(relay_url, to_client=link, to_server=link) as proxy:
        viewer = await watch(proxy.url, "bochum", token)   # tests/peers.py
        proxy.set_outage(True); await asyncio.sleep(5); proxy.set_outage(False)
        print(proxy.totals())
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

Address = tuple[str, int]


@dataclass
class GilbertElliott:
    """Burst loss: a two-state channel. Per packet, the good state turns bad with probability
    ``p`` and the bad state good with ``r``; a packet is lost with ``loss_good`` / ``loss_bad``
    in each. Mean burst length 1/r packets; long-run share of time bad p/(p+r)."""

    p: float = 0.002
    r: float = 0.25
    loss_good: float = 0.0
    loss_bad: float = 0.5
    bad: bool = False

    def lost(self, rng: random.Random) -> bool:
        if self.bad:
            if rng.random() < self.r:
                self.bad = False
        elif rng.random() < self.p:
            self.bad = True
        return rng.random() < (self.loss_bad if self.bad else self.loss_good)

    @property
    def mean_loss(self) -> float:
        bad_share = self.p / (self.p + self.r) if self.p + self.r else 0.0
        return bad_share * self.loss_bad + (1 - bad_share) * self.loss_good


@dataclass
class Impairment:
    """What one direction of the link does to each datagram."""

    delay_ms: float = 0.0
    # Each datagram's delay is delay_ms ± jitter_ms (uniform), as netem does.
    jitter_ms: float = 0.0
    # False: datagrams overtake each other when their jitter says so (netem's behaviour);
    # True: jitter never reorders (a datagram leaves no earlier than the one before it).
    keep_order: bool = False
    loss: float = 0.0
    burst: GilbertElliott | None = None
    # With this probability a datagram is held back reorder_ms longer (the next ones pass it).
    reorder: float = 0.0
    reorder_ms: float = 20.0
    duplicate: float = 0.0

    def copy(self) -> Impairment:
        burst = GilbertElliott(**asdict(self.burst)) if self.burst else None
        return Impairment(**{**asdict(self), "burst": burst})


@dataclass
class Counters:
    received: int = 0
    delivered: int = 0
    bytes_delivered: int = 0
    lost_random: int = 0
    lost_burst: int = 0
    lost_outage: int = 0
    duplicated: int = 0
    reordered: int = 0  # delivered after a datagram that arrived later than it
    rtcp: int = 0  # of the datagrams received: RTCP (SRTCP), and RTP by payload type
    rtp: dict[int, int] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.lost_random + self.lost_burst + self.lost_outage

    def add(self, other: Counters) -> None:
        for name, value in asdict(other).items():
            if name == "rtp":
                for pt, n in value.items():
                    self.rtp[pt] = self.rtp.get(pt, 0) + n
            else:
                setattr(self, name, getattr(self, name) + value)

    def count_kind(self, data: bytes) -> None:
        """RTP and RTCP headers stay readable under SRTP (RFC 3711); RFC 7983 tells them from
        STUN and DTLS, RFC 5761 RTCP from RTP."""
        if len(data) >= 12 and 128 <= data[0] <= 191:
            if 192 <= data[1] <= 223:
                self.rtcp += 1
            else:
                pt = data[1] & 0x7F
                self.rtp[pt] = self.rtp.get(pt, 0) + 1


class Direction:
    """One direction of a link: impairs each datagram, then hands it to ``send`` later."""

    def __init__(self, impairment: Impairment, rng: random.Random) -> None:
        self.impairment = impairment.copy()
        self.counters = Counters()
        self.down = False
        self._rng = rng
        self._last_departure = 0.0
        self._arrivals = 0
        self._max_delivered = -1

    def schedule(self, data: bytes, send: Any) -> None:
        imp, rng, c = self.impairment, self._rng, self.counters
        c.received += 1
        c.count_kind(data)
        self._arrivals += 1
        index = self._arrivals
        if self.down:
            c.lost_outage += 1
            return
        if imp.burst is not None and imp.burst.lost(rng):
            c.lost_burst += 1
            return
        if imp.loss and rng.random() < imp.loss:
            c.lost_random += 1
            return
        copies = 2 if imp.duplicate and rng.random() < imp.duplicate else 1
        c.duplicated += copies - 1
        loop = asyncio.get_running_loop()
        now = loop.time()
        delay = imp.delay_ms + (rng.uniform(-imp.jitter_ms, imp.jitter_ms)
                                if imp.jitter_ms else 0.0)
        if imp.reorder and rng.random() < imp.reorder:
            delay += imp.reorder_ms
        departure = now + max(0.0, delay) / 1000
        if imp.keep_order:  # (the loop's timers of equal time run in any order)
            departure = max(departure, self._last_departure + 1e-6)
        self._last_departure = max(self._last_departure, departure)
        for _ in range(copies):
            loop.call_at(departure, self._deliver, data, send, index)

    def _deliver(self, data: bytes, send: Any, index: int) -> None:
        c = self.counters
        if index < self._max_delivered:
            c.reordered += 1
        self._max_delivered = max(self._max_delivered, index)
        c.delivered += 1
        c.bytes_delivered += len(data)
        send(data)


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Any) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError):  # a busy loop must not turn into kernel drops
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.on_datagram(data, addr)

    def sendto(self, data: bytes, addr: Address | None) -> None:
        if self.transport is not None and addr is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)


class ImpairedLink:
    """Client ⇄ [client-facing socket | link | server-facing socket] ⇄ server.

    ``client`` and ``server`` are the peers' real addresses; the client's is replaced by where
    its datagrams actually come from (its real socket) as soon as one arrives."""

    def __init__(self, host: str, client: Address | None, server: Address,
                 to_server: Impairment, to_client: Impairment, seed: int | None = None) -> None:
        self.host = host
        self.client, self.server = client, server
        rng = random.Random(seed)
        self.to_server = Direction(to_server, rng)
        self.to_client = Direction(to_client, rng)
        self._client_side = _Socket(self._from_client)
        self._server_side = _Socket(self._from_server)
        self.created = time.monotonic()
        self.rtx: set[int] = set()  # the session's retransmission payload types

    def retransmissions(self, direction: Direction) -> int:
        return sum(n for pt, n in direction.counters.rtp.items() if pt in self.rtx)

    def media(self, direction: Direction) -> int:
        return sum(n for pt, n in direction.counters.rtp.items() if pt not in self.rtx)

    async def start(self) -> ImpairedLink:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self._client_side, local_addr=(self.host, 0))
        await loop.create_datagram_endpoint(lambda: self._server_side, local_addr=(self.host, 0))
        return self

    @property
    def client_facing(self) -> Address:
        assert self._client_side.transport is not None
        return self._client_side.transport.get_extra_info("sockname")[:2]  # type: ignore[no-any-return]

    @property
    def server_facing(self) -> Address:
        assert self._server_side.transport is not None
        return self._server_side.transport.get_extra_info("sockname")[:2]  # type: ignore[no-any-return]

    def _from_client(self, data: bytes, addr: Address) -> None:
        self.client = addr
        self.to_server.schedule(data, lambda d: self._server_side.sendto(d, self.server))

    def _from_server(self, data: bytes, addr: Address) -> None:
        self.server = addr
        self.to_client.schedule(data, lambda d: self._client_side.sendto(d, self.client))

    def set_outage(self, down: bool) -> None:
        """Drop everything both ways (``True``) until switched back (``False``)."""
        self.to_server.down = self.to_client.down = down

    def close(self) -> None:
        for side in (self._client_side, self._server_side):
            if side.transport is not None:
                side.transport.close()


# SDP ------------------------------------------------------------------------------------------
def candidates(sdp: str) -> list[tuple[str, int, str, str]]:
    """(ip, port, transport, type) of every ``a=candidate`` line."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            f = line.split()
            out.append((f[4], int(f[5]), f[2].lower(), f[7]))
    return out


def rtx_payload_types(sdp: str) -> set[int]:
    """Payload types that carry retransmissions (``a=rtpmap:N rtx/90000``)."""
    return {int(line.split(":", 1)[1].split()[0]) for line in sdp.splitlines()
            if line.startswith("a=rtpmap:") and " rtx/" in line.lower()}


def pick_candidate(sdp: str) -> Address:
    """The peer's IPv4 UDP host candidate (aiortc gathers one per interface, no loopback)."""
    for ip, port, transport, kind in candidates(sdp):
        if transport == "udp" and kind == "host" and ":" not in ip:
            return ip, port
    raise ValueError("no IPv4 UDP host candidate in the SDP")


def rewrite_candidates(sdp: str, address: Address) -> str:
    """The same SDP with one candidate, ``address``, in each media section that had some."""
    ip, port = address
    out: list[str] = []
    replaced = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            replaced = False
            f = line.split()
            f[1] = str(port)
            line = " ".join(f)
        elif line.startswith("c=IN "):
            line = f"c=IN IP4 {ip}"
        elif line.startswith("a=candidate:"):
            if replaced:
                continue
            replaced = True
            line = f"a=candidate:1 1 udp 2130706431 {ip} {port} typ host"
        out.append(line)
    return "\r\n".join(out) + "\r\n"


# HTTP -----------------------------------------------------------------------------------------
_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class ImpairedSignalling:
    """An HTTP proxy for WHIP/WHEP that routes every new session's media through a fresh
    ``ImpairedLink`` with the given impairments (the same for every link)."""

    upstream: str
    to_client: Impairment = field(default_factory=Impairment)
    to_server: Impairment = field(default_factory=Impairment)
    seed: int | None = None
    links: list[ImpairedLink] = field(default_factory=list)
    outage: bool = False

    def __post_init__(self) -> None:
        self.upstream = self.upstream.rstrip("/")
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._by_location: dict[str, ImpairedLink] = {}
        self.url = ""

    async def start(self) -> ImpairedSignalling:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._http = aiohttp.ClientSession()
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        for link in self.links:
            link.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def __aenter__(self) -> ImpairedSignalling:
        return await self.start()

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def set_outage(self, down: bool) -> None:
        """A link outage for every session, present and future (both directions)."""
        self.outage = down
        for link in self.links:
            link.set_outage(down)

    def totals(self) -> dict[str, Counters]:
        up, down = Counters(), Counters()
        for link in self.links:
            up.add(link.to_server.counters)
            down.add(link.to_client.counters)
        return {"to_server": up, "to_client": down}

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        link: ImpairedLink | None = None
        if request.method == "POST" and request.content_type == "application/sdp":
            offer = body.decode()
            client = pick_candidate(offer)
            # The server's address is known only from the answer: start with a placeholder.
            link = await ImpairedLink(client[0], client, ("0.0.0.0", 9), self.to_server,
                                      self.to_client, self.seed).start()
            body = rewrite_candidates(offer, link.server_facing).encode()
        try:
            async with self._http.request(request.method, self.upstream + request.path_qs,
                                          data=body, headers=headers,
                                          allow_redirects=False) as resp:
                data = await resp.read()
                out_headers = {k: v for k, v in resp.headers.items()
                               if k.lower() not in _HOP and k.lower() != "content-encoding"}
        except BaseException:
            if link is not None:
                link.close()
            raise
        if link is not None:
            if resp.status == 201:
                answer = data.decode()
                link.server = pick_candidate(answer)
                link.rtx = rtx_payload_types(answer)
                link.set_outage(self.outage)
                data = rewrite_candidates(answer, link.client_facing).encode()
                self.links.append(link)
                location = out_headers.get("Location", "")
                if location.startswith(self.upstream):
                    location = location[len(self.upstream):]
                    out_headers["Location"] = location
                self._by_location[location] = link
            else:
                link.close()
        if request.method == "DELETE" and resp.status < 300:
            gone = self._by_location.pop(request.path, None)
            if gone is not None:
                gone.close()
                # keep its counters in totals(): the link stays in self.links
        return web.Response(status=resp.status, body=data, headers=out_headers)
