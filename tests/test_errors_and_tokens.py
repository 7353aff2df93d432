"""Every error in the contract, and every way a token can fail, against the real server."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import jwt
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from peers import publish, watch
from servers import make_config

from window.app import Server
from window.auth.keys import KeySet
from window.auth.roles import Role
from window.auth.tokens import mint


async def offer_sdp(kind: str = "recvonly") -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction=kind)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return str(sdp)


async def request(method: str, url: str, token: str | None = None, body: bytes | str = b"",
                  content_type: str | None = "application/sdp",
                  headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if content_type:
        h["Content-Type"] = content_type
    async with aiohttp.ClientSession() as http, http.request(method, url, data=body,
                                                               headers=h) as r:
        return r.status, await r.text(), dict(r.headers)


async def test_token_failures_are_401(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    offer = await offer_sdp()
    url = f"{server.url}/whep/bochum"
    cfg = server.cfg
    other = KeySet("HS256", b"x" * 40, b"x" * 40)
    expired = mint(cfg, server.keys, role=Role.VIEWER, ttl_s=10, now=time.time() - 3600)[0]
    foreign = mint(cfg, other, role=Role.VIEWER, ttl_s=600)[0]
    claims = {"iss": "window", "aud": "elsewhere", "exp": int(time.time()) + 600, "jti": "j",
              "role": "viewer"}
    wrong_aud = jwt.encode(claims, server.keys.signing_key, algorithm="HS256")
    no_exp = jwt.encode({k: v for k, v in claims.items() if k != "exp"} | {"aud": "window"},
                        server.keys.signing_key, algorithm="HS256")
    none_alg = jwt.encode(claims | {"aud": "window"}, None, algorithm="none")
    hs512 = jwt.encode(claims | {"aud": "window"}, server.keys.signing_key, algorithm="HS512")
    cases = {
        None: "missing Authorization",
        "": "Authorization must be",
        "not-a-jwt": "token malformed",
        expired: "token expired",
        foreign: "token signature invalid",
        wrong_aud: "issuer or audience",
        no_exp: "lacks the 'exp' claim",
        none_alg: "",
        hs512: "different algorithm",
    }
    for tok, reason in cases.items():
        status, text, headers = await request("POST", url, tok, offer)
        assert status == 401, (tok, status, text)
        assert reason in text
        assert text.count("\n") == 1
        assert headers.get("WWW-Authenticate", "").startswith("Bearer")


async def test_roles_are_enforced_403(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    viewer_offer = await offer_sdp("recvonly")
    camera_offer = await offer_sdp("sendonly")
    whip, whep = f"{server.url}/whip/bochum", f"{server.url}/whep/bochum"
    assert (await request("POST", whip, token("viewer"), camera_offer))[0] == 403
    assert (await request("POST", whip, token("screen", "tsukuba"), camera_offer))[0] == 403
    assert (await request("POST", whip, token("camera", "tsukuba"), camera_offer))[0] == 403
    assert (await request("POST", whep, token("camera", "bochum"), viewer_offer))[0] == 403
    # a screen standing in bochum watches tsukuba, not its own site
    assert (await request("POST", whep, token("screen", "bochum"), viewer_offer))[0] == 403
    assert (await request("POST", whep, token("viewer", "tsukuba"), viewer_offer))[0] == 403
    status, _, headers = await request("POST", f"{server.url}/whep/tsukuba",
                                       token("screen", "bochum"), viewer_offer)
    assert status == 201 and headers["Location"].startswith("/whep/tsukuba/")
    for tok in (token("viewer"), token("viewer", "bochum"), token("admin")):
        assert (await request("POST", whep, tok, viewer_offer))[0] == 201


async def test_contract_error_codes(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    offer = await offer_sdp()
    v = token("viewer")
    base = server.url
    assert (await request("POST", f"{base}/whep/atlantis", v, offer))[0] == 404
    assert (await request("POST", f"{base}/whep/bochum", v, "hello"))[0] == 400
    cam = token("camera", "bochum")
    status, text, _ = await request("POST", f"{base}/whip/bochum", cam, offer)  # recvonly
    assert status == 400 and "sends no video" in text
    assert (await request("POST", f"{base}/whip/bochum", cam, "v=0\r\nbad"))[0] == 400
    assert (await request("POST", f"{base}/whep/bochum", v, offer, "text/plain"))[0] == 415
    assert (await request("POST", f"{base}/whep/bochum", v, offer, None))[0] == 415
    assert (await request("POST", f"{base}/whep/bochum", v, "v=0\r\n" + "a" * 70000))[0] == 413
    assert (await request("GET", f"{base}/whep/bochum", v))[0] == 405
    assert (await request("PUT", f"{base}/whip/bochum", v, offer))[0] == 405
    assert (await request("DELETE", f"{base}/whep/bochum/nosuchsession", v))[0] == 404
    # an offer that can receive neither VP8 nor H.264
    no_codec = offer.replace("VP8/90000", "XYZ/90000").replace("H264/90000", "XYZ/90000")
    status, text, _ = await request("POST", f"{base}/whep/bochum", v, no_codec)
    assert status == 400 and "VP8 or H.264" in text
    status, text, headers = await request("OPTIONS", f"{base}/whip/bochum", None,
                                          content_type=None)
    assert status == 204 and headers["Accept-Post"] == "application/sdp"
    status, text, _ = await request("GET", f"{base}/healthz", content_type=None)
    assert status == 200 and '"status": "ok"' in text


async def test_session_lifecycle_patch_and_delete(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    v = token("viewer")
    viewer = await watch(server.url, "bochum", v)
    loc = server.url + viewer.peer.location
    assert viewer.peer.etag
    frag = "a=ice-ufrag:zzzz\r\na=ice-pwd:abcdefabcdefabcdefabcdef\r\nm=video 9 UDP 0\r\n" \
           "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
    tf = "application/trickle-ice-sdpfrag"
    assert (await request("PATCH", loc, v, frag, "application/sdp"))[0] == 415
    assert (await request("PATCH", loc, v, frag, tf, {"If-Match": '"nope"'}))[0] == 412
    assert (await request("PATCH", loc, v, frag, tf))[0] == 422  # ICE restart: other ufrag
    ufrag = next(line.split(":", 1)[1] for line in viewer.peer.pc.localDescription.sdp
                 .splitlines() if line.startswith("a=ice-ufrag:"))
    same = frag.replace("zzzz", ufrag) + "a=end-of-candidates\r\n"
    assert (await request("PATCH", loc, v, same, tf, {"If-Match": viewer.peer.etag}))[0] == 204
    # another viewer's token may not end this session
    assert (await request("DELETE", loc, token("viewer")))[0] == 403
    assert (await request("DELETE", loc, v))[0] == 200
    assert (await request("DELETE", loc, v))[0] == 404
    await viewer.close()


async def test_at_capacity_is_503_with_retry_after(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, server={"max_viewers_per_site": 1},
                      limits={"reserved_per_site": 0}, media={"width": 320, "height": 180},
                      privacy={"mode": "full"})
    server = Server(cfg)
    await server.start()
    try:
        v = mint(cfg, server.keys, role=Role.VIEWER, ttl_s=60)[0]
        first = await watch(server.url, "bochum", v)
        status, text, headers = await request("POST", f"{server.url}/whep/bochum", v,
                                              await offer_sdp())
        assert status == 503 and "Retry-After" in headers and "maximum" in text
        # the other site is not affected
        other = await watch(server.url, "tsukuba", v)
        await other.close()
        await first.close()
    finally:
        await server.close()


async def test_revoked_token_is_refused_and_kicked(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    cam = token("camera", "bochum")
    pub, _ = await publish(server.url, "bochum", cam)
    grant = server.guard.grant(cam)
    server.store.revoke(grant.jti)
    server.guard.mark_revoked(grant.jti)
    assert await server.relay.kick_subject(grant.jti) == 1
    status, text, _ = await request("POST", f"{server.url}/whip/bochum", cam,
                                    await offer_sdp("sendonly"))
    assert status == 401 and "revoked" in text
    await pub.pc.close()


@pytest.mark.parametrize("ttl", ["30s", "15m", "12h", "30d"])
def test_ttl_formats(ttl: str) -> None:
    from window.durations import parse_duration

    assert parse_duration(ttl) in (30, 900, 43200, 2592000)
