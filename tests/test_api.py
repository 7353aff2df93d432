"""The operators' API and the /events WebSocket, against the real server."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from peers import publish, watch

from window.app import Server


async def call(server: Server, method: str, path: str, token: str | None = None,
               body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.request(
            method, server.url + path, headers=headers,
            json=body if body is not None else None) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


class Events:
    """A /events client that keeps every message."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, http: aiohttp.ClientSession) -> None:
        self.ws, self.http = ws, http
        self.messages: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, server: Server, token: str) -> Events:
        http = aiohttp.ClientSession()
        ws = await http.ws_connect(server.url.replace("http", "ws") + "/events")
        await ws.send_json({"type": "auth", "token": token})
        return cls(ws, http)

    async def next(self, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for m in self.messages:
                if pred(m):
                    self.messages.remove(m)
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching event; got {self.messages}")
            msg = await self.ws.receive(timeout=left)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket ended: {msg}")
            self.messages.append(json.loads(msg.data))

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


async def test_status_needs_admin(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    assert (await call(server, "GET", "/api/status"))[0] == 401
    assert (await call(server, "GET", "/api/status", "garbage"))[0] == 401
    assert (await call(server, "GET", "/api/status", token("viewer")))[0] == 403
    status, body = await call(server, "GET", "/api/status", token("admin"))
    assert status == 200
    assert set(body["sites"]) == {"bochum", "tsukuba"}
    b = body["sites"]["bochum"]
    assert b["timezone"] == "Europe/Berlin" and b["partner"] == "tsukuba"
    assert b["state"] == "offline" and b["mode"] == "full" and b["hours"] == []
    assert "privacy" in b["feed"] and b["viewer_sessions"] == []
    assert "off" not in body["modes"]
    status, text = await call(server, "GET", "/api/openapi.yaml")
    assert status == 200 and "openapi: 3.1.0" in text and "/api/sites/{site}/curtain" in text


async def test_curtain_mode_kick_and_audit(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    admin = token("admin")
    pub, _track = await publish(server.url, "bochum", token("camera", "bochum"))
    viewer = await watch(server.url, "bochum", token("viewer", "bochum"))
    events = await Events.open(server, token("screen", "tsukuba"))
    try:
        hello = await events.next(lambda m: m["type"] == "hello")
        assert hello["role"] == "screen" and hello["sites"] == ["bochum"]
        assert hello["language"] == "ja"  # a screen in Tsukuba speaks Japanese
        snap = await events.next(lambda m: m["type"] == "snapshot")
        assert list(snap["sites"]) == ["bochum"]
        assert snap["sites"]["bochum"]["language"] == "de"
        assert snap["sites"]["bochum"]["titles"] == {"de": "Bochum", "ja": "ボーフム",
                                                     "en": "Bochum"}
        await events.next(lambda m: m["type"] == "feed" and m["state"] == "live", 10)
        await viewer.wait_for(lambda img: img.mean() > 150)

        status, body = await call(server, "POST", "/api/sites/bochum/curtain", admin,
                                  {"down": True})
        assert status == 200 and body["paused"] is True
        started = time.monotonic()
        await events.next(lambda m: m["type"] == "feed" and m["state"] == "paused", 1.0)
        await viewer.wait_for(lambda img: img.mean() < 80, 2.0)
        assert time.monotonic() - started < 1.5
        assert server.store.settings("site:bochum")["paused"] is True

        assert (await call(server, "POST", "/api/sites/bochum/curtain", admin, {"down": 1}))[0] \
            == 400
        await call(server, "POST", "/api/sites/bochum/curtain", admin, {"down": False})
        await events.next(lambda m: m["type"] == "feed" and m["state"] == "live", 3)
        await viewer.wait_for(lambda img: img.mean() > 150, 5)

        status, _ = await call(server, "PUT", "/api/sites/bochum/privacy", admin, {"mode": "off"})
        assert status == 403
        assert (await call(server, "PUT", "/api/sites/bochum/privacy", admin,
                           {"mode": "nope"}))[0] == 400
        status, body = await call(server, "PUT", "/api/sites/bochum/privacy", admin,
                                  {"mode": "faces"})
        assert status == 200 and body["mode"] == "faces"
        await events.next(lambda m: m["type"] == "feed" and m["mode"] == "faces", 2)

        status, body = await call(server, "GET", "/api/status", admin)
        site = body["sites"]["bochum"]
        assert site["camera"] is True and site["resolution"] == [640, 360]
        assert len(site["viewer_sessions"]) == 1 and site["camera_session"]["kind"] == "publisher"
        vid = site["viewer_sessions"][0]["id"]

        status, _ = await call(server, "DELETE", f"/api/sessions/{vid}", admin)
        assert status == 200
        await events.next(lambda m: m["type"] == "viewers" and m["count"] == 0, 2)
        assert (await call(server, "DELETE", f"/api/sessions/{vid}", admin))[0] == 404

        status, body = await call(server, "GET", "/api/audit", admin)
        actions = [e["action"] for e in body["entries"]]
        assert actions[:5] == ["session.kick", "privacy.set", "privacy.refused", "curtain.up",
                               "curtain.down"]
        assert body["entries"][0]["actor"].startswith("admin#")
        assert body["entries"][0]["remote"] == "127.0.0.1"
    finally:
        await events.close()
        await viewer.close()
        await pub.pc.close()


async def test_mint_revoke_and_events_auth(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    admin = token("admin")
    status, body = await call(server, "POST", "/api/tokens", admin,
                              {"role": "viewer", "site": "tsukuba", "ttl": "15m",
                               "subject": "guest"})
    assert status == 201
    assert body["links"] == {"view tsukuba": f"/view/tsukuba#token={body['token']}"}
    assert body["expires_at"] - time.time() > 800
    minted = body["token"]
    assert (await call(server, "POST", "/api/tokens", admin, {"role": "screen"}))[0] == 400
    assert (await call(server, "POST", "/api/tokens", admin, {"role": "king"}))[0] == 400
    assert (await call(server, "POST", "/api/tokens", admin,
                       {"role": "viewer", "ttl": "9999d"}))[0] == 400

    events = await Events.open(server, minted)
    hello = await events.next(lambda m: m["type"] == "hello")
    assert hello["sites"] == ["tsukuba"]
    await events.next(lambda m: m["type"] == "snapshot")
    viewer = await watch(server.url, "tsukuba", minted)
    await events.next(lambda m: m["type"] == "viewers" and m["count"] == 1)

    status, body = await call(server, "DELETE", f"/api/tokens/{_jti(minted)}", admin,
                              {"reason": "test"})
    assert status == 200 and body["sessions_ended"] == 1
    err = await events.next(lambda m: m["type"] == "error", 5)
    assert err["status"] == 401 and "revoked" in err["reason"]
    await events.close()
    await viewer.close()
    assert (await call(server, "GET", "/api/audit", minted))[0] == 401

    # the token can come as a query parameter, too; a camera token may not follow events
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(server.url.replace("http", "ws") + "/events?token="
                                   + token("camera", "bochum"))
        msg = json.loads((await ws.receive(timeout=3)).data)
        assert msg == {"type": "error", "status": 403,
                       "reason": "a camera token may not events"}
        await ws.close()
        ws = await http.ws_connect(server.url.replace("http", "ws") + "/events")
        await ws.send_json({"type": "auth", "token": token("viewer", ttl_s=-100)})
        msg = json.loads((await ws.receive(timeout=3)).data)
        assert msg["status"] == 401 and msg["reason"] == "token expired"
        await ws.close()

    status, body = await call(server, "GET", "/api/audit", admin)
    assert [e["action"] for e in body["entries"][:2]] == ["token.revoke", "token.mint"]
    assert "token" not in json.dumps(body["entries"][1]["detail"]).replace("token.", "")


async def test_renew_screen_token(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    from window.auth.roles import Role
    from window.auth.tokens import mint

    # past half its life (a token renews only then)
    screen = mint(server.cfg, server.keys, role=Role.SCREEN, ttl_s=120, site="bochum",
                  now=time.time() - 70)[0]
    status, body = await call(server, "POST", "/api/renew", screen)
    assert status == 200 and body["expires_at"] >= time.time() + 100
    assert _jti(body["token"]) == _jti(screen)
    assert (await call(server, "POST", "/api/renew", token("viewer")))[0] == 403


async def test_settings_survive_restart(server: Server, token, tmp_path) -> None:  # type: ignore[no-untyped-def]
    admin = token("admin")
    await call(server, "POST", "/api/sites/tsukuba/curtain", admin, {"down": True})
    await call(server, "PUT", "/api/sites/tsukuba/privacy", admin, {"mode": "faces"})
    await server.close()
    again = Server(server.cfg)
    await again.start()
    try:
        await asyncio.sleep(0.3)
        feed = again.relay.feed("tsukuba")
        assert feed.paused and str(feed.privacy.mode) == "faces"
        _status, body = await call(again, "GET", "/api/audit", admin)
        assert [e["action"] for e in body["entries"][:2]] == ["privacy.set", "curtain.down"]
    finally:
        await again.close()
    server.store = again.store  # the fixture closes it again: harmless


def _jti(token: str) -> str:
    import jwt

    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


async def test_opening_hours_in_status_and_events(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from window.auth.roles import Role
    from window.auth.tokens import mint
    from window.config import load

    # open for one minute, two hours from now (Tokyo time): closed now, opening then
    later = datetime.now(ZoneInfo("Asia/Tokyo")) + timedelta(hours=2)
    if later.minute == 59:
        later -= timedelta(minutes=1)
    day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][later.weekday()]
    span = f"{day} {later:%H:%M}-{later.hour:02d}:{later.minute + 1:02d}"
    cfg = load(None, env={}, flags={"server": {"port": 0, "data_dir": str(tmp_path)},
                                     "media": {"width": 320, "height": 180},
                                     "privacy": {"mode": "full"}})
    cfg.sites["tsukuba"].hours = [span]
    srv = Server(cfg)
    await srv.start()
    try:
        admin = mint(cfg, srv.keys, role=Role.ADMIN, ttl_s=60)[0]
        status, body = await call(srv, "GET", "/api/sites/tsukuba", admin)
        assert status == 200 and body["hours"] == [span] and body["open"] is False
        assert body["next_opening"].startswith(later.strftime("%Y-%m-%dT%H:%M"))
        events = await Events.open(srv, mint(cfg, srv.keys, role=Role.SCREEN, ttl_s=60,
                                             site="bochum")[0])
        snap = await events.next(lambda m: m["type"] == "snapshot")
        assert snap["sites"]["tsukuba"]["state"] == "closed"
        await events.close()
    finally:
        await srv.close()


async def test_qr_code_of_a_link(server, token) -> None:  # type: ignore[no-untyped-def]
    import aiohttp

    link = f"{server.url}/screen/tsukuba#token=abc.def.ghi"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/api/qr", json={"text": link},
                             headers={"Authorization": f"Bearer {token('admin')}"}) as r:
            assert r.status == 200
            svg = (await r.json())["svg"]
        async with http.post(f"{server.url}/api/qr", json={"text": link},
                             headers={"Authorization": f"Bearer {token('viewer')}"}) as r:
            assert r.status == 403
        async with http.post(f"{server.url}/api/qr", json={"text": ""},
                             headers={"Authorization": f"Bearer {token('admin')}"}) as r:
            assert r.status == 400
    assert svg.startswith("<svg") and "QR code of the link" in svg
    # it encodes the link: decode it back with OpenCV's QR reader
    import cv2
    import numpy as np
    import segno

    from window.web.api import qr_svg
    img = np.array(segno.make(link, error="m").matrix, dtype=np.uint8)
    assert qr_svg(link) == svg
    big = cv2.resize((1 - img) * 255, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    big = cv2.copyMakeBorder(big, 32, 32, 32, 32, cv2.BORDER_CONSTANT, value=255)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(big)
    assert text == link
