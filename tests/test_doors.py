"""The relay's other doors hold against a client that holds one ordinary token (or none):
``/events`` (nesting, size, socket caps, silence), ``/metrics`` (odd bearer bytes),
``/api/renew`` (too early, too often, audit) and TURN credentials (lifetime, roles)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

import aiohttp
import pytest
from servers import running, small_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint

LINK = re.compile(r'<([^>]+)>; rel="ice-server"; username="([^"]+)"; credential="([^"]+)"')


def ws_url(srv: Server) -> str:
    return srv.url.replace("http", "ws") + "/events"


# 5. /events holds its door --------------------------------------------------------------------
async def test_a_deeply_nested_first_message_is_refused_without_a_traceback(
        server: Server, token, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    nested = "[" * 4000 + "]" * 4000  # fits the message limit; too deep for json.loads
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.ws_connect(ws_url(server)) as ws:
                await ws.send_str(nested)
                msg = await ws.receive_json(timeout=5)
                assert msg["type"] == "error" and msg["status"] == 401
                closing = await ws.receive(timeout=5)
                assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4401
        # and after authenticating, nested or oversized-but-allowed junk is just ignored
        async with http.ws_connect(ws_url(server)) as ws:
            await ws.send_json({"type": "auth", "token": token("viewer")})
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            await ws.send_str(nested)
            await ws.send_json({"type": "ping"})
            types = {(await ws.receive_json(timeout=5))["type"] for _ in range(2)}
            assert "pong" in types
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_an_oversized_message_closes_the_socket(server: Server) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(server)) as ws:
        await ws.send_str('{"type": "auth", "token": "' + "x" * 100_000 + '"}')
        msg = await ws.receive(timeout=5)
        while msg.type is aiohttp.WSMsgType.TEXT:
            msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_sockets_are_capped_per_address_and_silent_ones_closed_soon(
        tmp_path: Path) -> None:
    cfg = small_config(tmp_path, limits={"events_sockets_per_address": 3,
                                         "events_auth_timeout_s": 1.0})
    async with running(cfg) as srv, aiohttp.ClientSession() as http:
        viewer = mint(cfg, srv.keys, role=Role.VIEWER, ttl_s=60)[0]
        held = []
        for _ in range(3):
            ws = await http.ws_connect(ws_url(srv))
            await ws.send_json({"type": "auth", "token": viewer})
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            held.append(ws)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(ws_url(srv))
        assert refused.value.status == 429
        assert refused.value.headers is not None and "Retry-After" in refused.value.headers
        await held.pop().close()
        await asyncio.sleep(0.2)
        # a socket that never says who it is: closed after events_auth_timeout_s (1 s here)
        silent = await http.ws_connect(ws_url(srv))
        msg = await silent.receive(timeout=3.5)
        while msg.type is aiohttp.WSMsgType.TEXT:
            msg = await silent.receive(timeout=3.5)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4401
        for ws in held:
            await ws.close()


# 6. /metrics never answers 500 ---------------------------------------------------------------
async def test_metrics_with_a_non_ascii_bearer_is_401_not_500(tmp_path: Path) -> None:
    cfg = small_config(tmp_path, server={"metrics_token": "s3cret-scrape-token"})
    async with running(cfg) as srv, aiohttp.ClientSession() as http:
        for bearer in ("tökén", "s3cret-scrape-tokeñ", "€" * 40):
            async with http.get(srv.url + "/metrics",
                                headers={"Authorization": f"Bearer {bearer}"}) as r:
                assert r.status == 401, (bearer, r.status, await r.text())
        async with http.get(srv.url + "/metrics",
                            headers={"Authorization": "Bearer s3cret-scrape-token"}) as r:
            assert r.status == 200


# 7. /api/renew is not a disk filler ----------------------------------------------------------
async def renew(srv: Server, token: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as http, http.post(
            srv.url + "/api/renew", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, dict(r.headers), await r.text()


async def test_renewal_waits_for_half_the_life_and_happens_once_per_period(
        server: Server, token) -> None:  # type: ignore[no-untyped-def]
    cfg, keys = server.cfg, server.keys
    fresh = mint(cfg, keys, role=Role.SCREEN, ttl_s=3600, site="bochum")[0]
    status, headers, _ = await renew(server, fresh)
    assert status == 429 and 1700 < int(headers["Retry-After"]) <= 1800
    old = mint(cfg, keys, role=Role.SCREEN, ttl_s=3600, site="bochum",
               now=time.time() - 2000)[0]
    assert (await renew(server, old))[0] == 200
    for _ in range(20):  # the old token is still valid: it must not renew again and again
        assert (await renew(server, old))[0] == 429
    async with aiohttp.ClientSession() as http, http.get(
            server.url + "/api/audit", headers={"Authorization": f"Bearer {token('admin')}"}
    ) as r:
        entries = (await r.json())["entries"]
    assert [e["action"] for e in entries].count("token.renew") == 1


async def test_renewal_ends_after_the_configured_age(tmp_path: Path) -> None:
    cfg = small_config(tmp_path, auth={"renew_max_age": "30d"})
    async with running(cfg) as srv:
        long_ago = time.time() - 31 * 86400
        old = mint(cfg, srv.keys, role=Role.SCREEN, ttl_s=3600, site="bochum",
                   now=time.time() - 2000, first_issued=int(long_ago))[0]
        status, _h, text = await renew(srv, old)
        assert status == 403 and "renew_max_age" in text
        young = mint(cfg, srv.keys, role=Role.SCREEN, ttl_s=3600, site="bochum",
                     now=time.time() - 2000)[0]
        status, _h, body = await renew(srv, young)
        assert status == 200
        renewed = srv.guard.grant(__import__("json").loads(body)["token"])
        assert renewed.first_issued == srv.guard.grant(young).issued_at


# 8. TURN credentials do not outlive their token ---------------------------------------------
async def test_turn_credentials_end_with_the_token_and_only_for_media_roles(
        tmp_path: Path) -> None:
    cfg = small_config(tmp_path, turn={"urls": ["turn:turn.example.org:3478"],
                                       "secret": "t" * 32, "credential_ttl_s": 3600})
    async with running(cfg) as srv, aiohttp.ClientSession() as http:
        async def links(path: str, token: str, method: str = "OPTIONS") -> list[str]:
            async with http.request(method, srv.url + path,
                                    headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 204
                return r.headers.getall("Link", [])

        short = mint(cfg, srv.keys, role=Role.VIEWER, ttl_s=120)[0]
        (link,) = await links("/whep/bochum", short)
        m = LINK.match(link)
        assert m
        expiry = int(m.group(2).split(":")[0])
        assert expiry <= srv.guard.grant(short).expires_at
        # a viewer's token gets nothing at the camera's door, a camera's nothing at the viewers'
        assert await links("/whip/bochum", short) == []
        cam = mint(cfg, srv.keys, role=Role.CAMERA, ttl_s=600, site="bochum")[0]
        assert await links("/whep/bochum", cam) == []
        assert len(await links("/whip/bochum", cam)) == 1
        assert await links("/whip/tsukuba", cam) == []


# 10. what the docs say is what the relay does ------------------------------------------------
async def test_a_cli_revocation_ends_open_sessions_within_seconds(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    """docs/operations.md: the CLI writes to window.db; the relay ends the sessions in ≈ 2 s."""
    from peers import watch

    from window.store import Store

    viewer = token("viewer")
    v = await watch(server.url, "bochum", viewer)
    other = Store(server.cfg.data_path)  # what `window token revoke` does, from its process
    other.revoke(server.guard.grant(viewer).jti, reason="cli")
    other.close()
    deadline = time.monotonic() + 8
    while server.relay.viewers_of("bochum") and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not server.relay.viewers_of("bochum")
    await v.close()
    ops = (Path(__file__).parent.parent / "docs" / "operations.md").read_text()
    assert "continues until it\nends" not in ops and "ends every media session" in ops


async def test_x_forwarded_for_is_believed_from_trusted_proxies_only(tmp_path: Path) -> None:
    """docs/deployment.md: X-Forwarded-For counts from server.trusted_proxies only."""
    cfg = small_config(tmp_path, server={"trusted_proxies": ["127.0.0.1"]},
                       limits={"events_sockets_per_address": 1})
    async with running(cfg) as srv, aiohttp.ClientSession() as http:
        viewer = mint(cfg, srv.keys, role=Role.VIEWER, ttl_s=60)[0]
        a = await http.ws_connect(ws_url(srv), headers={"X-Forwarded-For": "198.51.100.7"})
        await a.send_json({"type": "auth", "token": viewer})
        assert (await a.receive_json(timeout=5))["type"] == "hello"
        # another client behind the same proxy is not refused: the cap is per client address
        b = await http.ws_connect(ws_url(srv), headers={"X-Forwarded-For": "198.51.100.8"})
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(ws_url(srv), headers={"X-Forwarded-For": "198.51.100.7"})
        await a.close()
        await b.close()
    deployment = (Path(__file__).parent.parent / "docs" / "deployment.md").read_text()
    assert "does not read `X-Forwarded-For`" not in deployment
    assert "trusted_proxies" in deployment
