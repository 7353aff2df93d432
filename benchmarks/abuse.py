"""The misbehaving client for ``benchmarks/soak.py --abuse``, and the honest screens it must
not take off the air.

Beside the soak's honest cameras and viewers, this runs (all at once, for the whole load):

* **one viewer token, many sessions**: never-connecting WHEP offers posted again and again
  (each would hold a slot for ``server.connect_timeout_s``): the relay answers ``429``;
* **a photographed kiosk link**: the same with a screen token;
* **many viewer tokens** filling one site (``bochum``) with never-connecting offers, two per
  token, re-posted as the reaper frees them: viewers get ``503`` once the viewer share is full,
  screens still get the slots kept for them;
* **offers of 900 candidates** (cut to ``candidates.max_per_offer``);
* **another camera token** for each site, trying to publish every few seconds (``409`` while
  the site's camera is live);
* **/events** abuse: JSON nested too deep to parse, messages over the size limit, silent
  sockets up to and past the per-address cap;

and, per site, one **honest screen** (its own screen token, as every kiosk has) that holds a
WHEP session for 30–60 s, hangs up (DELETE) and reconnects at once, like a kiosk reloading:
every answer it gets is counted. The claim measured: screens never see a 503 (or 429), and
each of their sessions receives frames.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection

FILL_SITE = "bochum"
FILL_TOKENS = 40


def mint_tokens(cfg: Any, keys: Any, sites: tuple[str, ...], ttl: int) -> dict[str, Any]:
    """Run in the relay's process (it holds the keys): every token the abuse needs."""
    from window.auth.roles import Role
    from window.auth.tokens import mint

    def one(role: Role, site: str | None = None, subject: str = "") -> str:
        return mint(cfg, keys, role=role, ttl_s=ttl, site=site, subject=subject)[0]

    partner = {name: cfg.sites[name].partner for name in sites}
    return {
        "viewer": one(Role.VIEWER, subject="abuse-one-viewer"),
        "photographed_screen": one(Role.SCREEN, sites[0], "abuse-photographed-kiosk"),
        "watches": partner[sites[0]],
        "fillers": [one(Role.VIEWER, subject=f"abuse-filler-{i}") for i in range(FILL_TOKENS)],
        "cameras": {site: one(Role.CAMERA, site, "abuse-camera") for site in sites},
        # the honest screens: screens[site] stands in the partner city and watches ``site``
        "screens": {site: one(Role.SCREEN, partner[site], f"screen-{partner[site]}")
                    for site in sites if partner[site]},
    }


class Abuse:
    def __init__(self, url: str, tokens: dict[str, Any], stop: asyncio.Event,
                 new_viewer_pc: Callable[[list[int]], RTCPeerConnection],
                 new_camera_pc: Callable[[], RTCPeerConnection],
                 wait_connected: Callable[[RTCPeerConnection], Awaitable[bool]]) -> None:
        self.url, self.tokens, self.stop = url, tokens, stop
        self.new_viewer_pc, self.new_camera_pc = new_viewer_pc, new_camera_pc
        self.wait_connected = wait_connected
        self.rng = random.Random(7)
        self.statuses: collections.Counter[str] = collections.Counter()  # "what status"
        self.screen_statuses: collections.Counter[int] = collections.Counter()
        self.screen_sessions = 0
        self.screen_sessions_with_frames = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.sdp = ""

    async def hold(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def run(self) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        while pc.iceGatheringState != "complete":
            await asyncio.sleep(0.01)
        self.sdp = pc.localDescription.sdp  # one real offer, posted again and again
        await pc.close()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            jobs = [self.flood(http, "one viewer token", self.tokens["viewer"], "bochum"),
                    self.flood(http, "photographed screen token",
                               self.tokens["photographed_screen"], self.tokens["watches"]),
                    self.fill(http), self.candidates(http), self.events(http)]
            jobs += [self.hijack(http, site, tok) for site, tok in self.tokens["cameras"].items()]
            jobs += [self.screen(site, tok) for site, tok in self.tokens["screens"].items()]
            await asyncio.gather(*jobs, return_exceptions=True)

    async def post(self, http: aiohttp.ClientSession, path: str, token: str, sdp: str,
                   what: str) -> int:
        try:
            async with http.post(self.url + path, data=sdp, headers={
                    "Content-Type": "application/sdp", "Authorization": f"Bearer {token}"}) as r:
                await r.read()
                self.statuses[f"{what} {r.status}"] += 1
                return r.status
        except (aiohttp.ClientError, TimeoutError) as e:
            self.errors[f"{what}: {type(e).__name__}"] += 1
            return 0

    async def flood(self, http: aiohttp.ClientSession, what: str, token: str, site: str,
                    pause: float = 0.25) -> None:
        while not self.stop.is_set():
            await self.post(http, f"/whep/{site}", token, self.sdp, what)
            await self.hold(pause)

    async def fill(self, http: aiohttp.ClientSession) -> None:
        """Many viewer tokens keep FILL_SITE full of never-connecting offers."""
        while not self.stop.is_set():
            for token in self.tokens["fillers"]:
                for _ in range(2):
                    await self.post(http, f"/whep/{FILL_SITE}", token, self.sdp,
                                    "filler viewer tokens")
            await self.hold(10.0)

    async def candidates(self, http: aiohttp.ClientSession) -> None:
        junk = "".join(f"a=candidate:{i} 1 udp {2130706431 - i} 127.0.0.1 {20000 + i} typ host"
                       "\r\n" for i in range(900))
        sdp = self.sdp.replace("a=end-of-candidates\r\n", "").replace(
            "a=ice-ufrag:", junk + "a=ice-ufrag:", 1)
        while not self.stop.is_set():
            await self.post(http, "/whep/tsukuba", self.tokens["fillers"][0], sdp,
                            "900 candidates")
            await self.hold(5.0)

    async def hijack(self, http: aiohttp.ClientSession, site: str, token: str) -> None:
        pc = self.new_camera_pc()
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        while not self.stop.is_set():
            await self.hold(self.rng.uniform(3, 8))
            await self.post(http, f"/whip/{site}", token, sdp, f"other camera token {site}")

    async def silent(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Say nothing; see when the relay hangs up."""
        with contextlib.suppress(Exception):
            msg = await ws.receive(timeout=30)
            while msg.type is aiohttp.WSMsgType.TEXT:
                msg = await ws.receive(timeout=30)
            self.statuses[f"/events silent closed {msg.data}"] += 1
        await ws.close()

    async def events(self, http: aiohttp.ClientSession) -> None:
        ws_url = self.url.replace("http", "ws") + "/events"
        nested = "[" * 4000 + "]" * 4000
        held: set[asyncio.Task[None]] = set()
        while not self.stop.is_set():
            for what, message in (("nested", nested), ("oversized", "x" * 200_000),
                                  ("silent", None)):
                try:
                    ws = await http.ws_connect(ws_url)
                except aiohttp.WSServerHandshakeError as e:
                    self.statuses[f"/events {what} {e.status}"] += 1
                    continue
                except (aiohttp.ClientError, TimeoutError) as e:
                    self.errors[f"/events: {type(e).__name__}"] += 1
                    continue
                if message is None:
                    task = asyncio.create_task(self.silent(ws))
                    held.add(task)
                    task.add_done_callback(held.discard)
                else:
                    with contextlib.suppress(Exception):
                        await ws.send_str(message)
                        msg = await ws.receive(timeout=5)
                        while msg.type is aiohttp.WSMsgType.TEXT:
                            msg = await ws.receive(timeout=5)
                        self.statuses[f"/events {what} closed {msg.data}"] += 1
                    await ws.close()
            await self.hold(0.5)
        await asyncio.gather(*held, return_exceptions=True)

    async def screen(self, site: str, token: str) -> None:
        """An honest kiosk (a machine of its own: its own HTTP client): watch, hang up after
        30–60 s, reconnect at once; forever."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            await self._screen(http, site, token)

    async def _screen(self, http: aiohttp.ClientSession, site: str, token: str) -> None:
        while not self.stop.is_set():
            counter = [0]
            pc = self.new_viewer_pc(counter)
            try:
                await pc.setLocalDescription(await pc.createOffer())
                while pc.iceGatheringState != "complete":
                    await asyncio.sleep(0.01)
                async with http.post(f"{self.url}/whep/{site}", data=pc.localDescription.sdp,
                                     headers={"Content-Type": "application/sdp",
                                              "Authorization": f"Bearer {token}"}) as r:
                    body = await r.text()
                    self.screen_statuses[r.status] += 1
                    location = r.headers.get("Location", "")
                if r.status != 201:
                    await self.hold(1.0)
                    continue
                from aiortc import RTCSessionDescription

                await pc.setRemoteDescription(RTCSessionDescription(body, "answer"))
                self.screen_sessions += 1
                if not await self.wait_connected(pc):
                    self.errors["screen did not connect"] += 1
                await self.hold(self.rng.uniform(30, 60))
                self.screen_sessions_with_frames += counter[0] > 0
                async with http.delete(self.url + location,
                                       headers={"Authorization": f"Bearer {token}"}) as r:
                    await r.read()
                    if r.status != 200:
                        self.errors[f"screen DELETE {r.status}"] += 1
            except (aiohttp.ClientError, TimeoutError) as e:
                self.errors[f"screen: {type(e).__name__}"] += 1
                await self.hold(1.0)
            finally:
                await pc.close()

    def report(self) -> dict[str, Any]:
        return {"screen_answers": dict(self.screen_statuses),
                "screen_sessions": self.screen_sessions,
                "screen_sessions_with_frames": self.screen_sessions_with_frames,
                "abuse_answers": dict(sorted(self.statuses.items())),
                "abuse_errors": dict(self.errors)}

    def verdict(self) -> dict[str, bool]:
        s = self.screen_statuses
        return {"screens never saw 503 or 429": s[503] == 0 and s[429] == 0 and s[201] > 0,
                "screens never timed out": not any(k.startswith("screen") for k in self.errors),
                "every screen session received frames":
                    self.screen_sessions_with_frames >= self.screen_sessions - 2}
