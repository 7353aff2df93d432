"""The audience tier's door after the hand-over, with real Janus: a viewer the relay sent to
the tier (by proxy or by a 307) is cut off there when its token is revoked, it is kicked or
its token expires; a ticket opens the tier once; and a session's resource at the tier cannot
be ended or trickled by anyone without its credential, while its viewer keeps playing."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urljoin

import aiohttp
import pytest
from janus import JanusTier, janus_tier
from peers import Viewer, watch, watch_url
from tierkit import bright, offer_sdp, post, relay_feeding, viewer_token

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint

pytestmark = pytest.mark.asyncio(loop_scope="module")

FRAG = "a=end-of-candidates\r\n"  # a trickle fragment the tier accepts (no ICE restart)


@pytest.fixture(scope="module")
def tier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusTier]:
    with janus_tier(tmp_path_factory.mktemp("janus-sec"), ["bochum", "tsukuba"]) as t:
        yield t


async def stopped(v: Viewer, timeout: float = 15) -> None:
    """The viewer's picture stops: no frame for 1.5 s, within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = v.count
        await asyncio.sleep(1.5)
        if v.count == n:
            return
    raise AssertionError(f"the viewer still receives frames after {timeout} s")


async def playing(v: Viewer) -> None:
    await v.wait_frames(10)


async def redirected(server: Server, token: str) -> tuple[Viewer, str]:
    """A viewer that POSTs at the relay, gets a 307 and plays from the tier."""
    resp = await post(server.url + "/whep/bochum", token, await offer_sdp())
    assert resp.status == 307, resp.status
    location = resp.headers["Location"]
    v = await watch_url(location, "")
    return v, urljoin(location, v.peer.location)


async def call(method: str, url: str, token: str | None = None, body: str = "",
               content_type: str = "application/trickle-ice-sdpfrag") -> int:
    headers = {"Content-Type": content_type, "If-Match": "*"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http, http.request(
            method, url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def revoke(server: Server, jti: str) -> int:
    admin = viewer_token(server, role="admin")
    async with aiohttp.ClientSession() as http, http.delete(
            f"{server.url}/api/tokens/{jti}", json={},
            headers={"Authorization": f"Bearer {admin}"}) as resp:
        assert resp.status == 200
        return int((await resp.json())["sessions_ended"])


@asynccontextmanager
async def redirecting(tmp: Path, tier: JanusTier) -> AsyncIterator[Server]:
    async with relay_feeding(tmp, [tier], handoff="redirect") as (server, _):
        yield server


# a viewer sent by a 307 -----------------------------------------------------------------------

async def test_revoking_a_token_cuts_off_its_viewer_the_307_sent_to_the_tier(
        tier: JanusTier, tmp_path: Path) -> None:
    async with redirecting(tmp_path, tier) as server:
        token, grant = mint(server.cfg, server.keys, role=Role.VIEWER, ttl_s=600)
        v, _ = await redirected(server, token)
        other, _ = await redirected(server, viewer_token(server))
        try:
            await bright(v)
            await playing(other)
            assert await revoke(server, grant.jti) == 1
            await stopped(v)
            assert server.tier.redirected_of("bochum") and all(
                r.grant.jti != grant.jti for r in server.tier.redirected_of("bochum"))
            await playing(other)  # the other viewer is not touched
        finally:
            await v.close()
            await other.close()


async def test_an_operator_kicks_a_viewer_that_the_307_sent_to_the_tier(
        tier: JanusTier, tmp_path: Path) -> None:
    async with redirecting(tmp_path, tier) as server:
        v, _ = await redirected(server, viewer_token(server))
        try:
            await bright(v)
            admin = viewer_token(server, role="admin")
            auth = {"Authorization": f"Bearer {admin}"}
            async with aiohttp.ClientSession() as http:
                async with http.get(server.url + "/api/status", headers=auth) as resp:
                    listed = (await resp.json())["sites"]["bochum"]["viewer_sessions"]
                there = [s for s in listed if s["state"] == "tier (307)"]
                assert len(there) == 1
                async with http.delete(f"{server.url}/api/sessions/{there[0]['id']}",
                                       headers=auth) as resp:
                    assert resp.status == 200
            await stopped(v)
        finally:
            await v.close()


async def test_the_tier_ends_a_307_viewer_when_its_token_expires(
        tier: JanusTier, tmp_path: Path) -> None:
    async with redirecting(tmp_path, tier) as server:
        v, _ = await redirected(server, viewer_token(server, ttl_s=8))
        try:
            await playing(v)
            await stopped(v, timeout=25)
        finally:
            await v.close()


async def test_a_ticket_opens_the_tier_once(tier: JanusTier, tmp_path: Path) -> None:
    async with redirecting(tmp_path, tier) as server:
        sdp = await offer_sdp()
        resp = await post(server.url + "/whep/bochum", viewer_token(server), sdp)
        location = resp.headers["Location"]
        v = await watch_url(location, "")
        try:
            await playing(v)
            assert (await post(location, None, await offer_sdp())).status == 403
        finally:
            await v.close()


# a session's resource at the tier -------------------------------------------------------------

async def test_a_307_viewers_session_at_the_tier_opens_only_to_its_own_path(
        tier: JanusTier, tmp_path: Path) -> None:
    async with redirecting(tmp_path, tier) as server:
        v, resource = await redirected(server, viewer_token(server))
        try:
            await playing(v)
            assert "/whep/session/" in resource and "/resource/" not in resource
            base = resource.rsplit("/", 1)[0]
            guessed = f"{base}/{secrets.token_urlsafe(32)}"
            for method in ("DELETE", "PATCH"):
                assert await call(method, guessed, body=FRAG) == 404
            # the endpoint's own resource paths want the tier's credential, which the
            # viewer never had (a viewer's token or the push token will not do)
            for uuid in ("x" * 16, "A" * 16):
                for token in (None, viewer_token(server), tier.push_token):
                    assert await call("DELETE", f"{tier.whep_base}/resource/{uuid}",
                                      token) in (403, 404)
            assert await call("DELETE", f"{tier.whep_base}/ticket/{'0' * 32}") == 403
            assert await call("PATCH", resource, body=FRAG) == 204  # its own path: trickle
            await playing(v)  # still playing after all that
            assert await call("DELETE", resource) == 200
            await stopped(v)
            assert await call("DELETE", resource) == 404
        finally:
            await v.close()


async def test_a_proxied_viewers_resource_at_the_tier_wants_the_tiers_credential(
        tier: JanusTier, tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, [tier]) as (server, _):
        token = viewer_token(server)
        v = await watch(server.url, "bochum", token)
        try:
            await playing(v)
            (handed,) = server.tier.viewers_of("bochum")
            for bad in (None, token, tier.push_token, "not-a-token"):
                assert await call("DELETE", handed.resource, bad) == 403
                assert await call("PATCH", handed.resource, bad, FRAG) == 403
            await playing(v)
            # our own door: someone else's viewer token may not end it either
            other = viewer_token(server)
            assert await call("DELETE", server.url + v.peer.location, other) == 403
            await playing(v)
            assert await call("DELETE", server.url + v.peer.location, token) == 200
            await stopped(v)
        finally:
            await v.close()


async def test_a_kicked_proxied_viewer_stops_at_the_tier(
        tier: JanusTier, tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, [tier]) as (server, _):
        v = await watch(server.url, "bochum", viewer_token(server))
        try:
            await playing(v)
            session_id = v.peer.location.rsplit("/", 1)[-1]
            admin = viewer_token(server, role="admin")
            async with aiohttp.ClientSession() as http, http.delete(
                    f"{server.url}/api/sessions/{session_id}",
                    headers={"Authorization": f"Bearer {admin}"}) as resp:
                assert resp.status == 200
            await stopped(v)
            assert server.tier.viewers_of("bochum") == []
        finally:
            await v.close()


async def test_a_307_viewer_counts_against_its_tokens_cap_while_the_tier_has_it(
        tier: JanusTier, tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, [tier], handoff="redirect", ticket_ttl_s=5) as (
            server, _):
        token = mint(server.cfg, server.keys, role=Role.VIEWER, ttl_s=600, max_sessions=1)[0]
        v, resource = await redirected(server, token)
        try:
            await playing(v)
            resp = await post(server.url + "/whep/bochum", token, await offer_sdp())
            assert resp.status == 429  # one session for this token, and it is at the tier
            assert await call("DELETE", resource) == 200
        finally:
            await v.close()
        await asyncio.sleep(5.5)  # its ticket can no longer be used either
        await server.tier.poll_once()  # the tier no longer reports it
        assert server.tier.held_by(server.guard.grant(token).jti) == 0
        resp = await post(server.url + "/whep/bochum", token, await offer_sdp())
        assert resp.status == 307
