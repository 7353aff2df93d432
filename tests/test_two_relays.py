"""Two relays, one window: bochum's relay pushes its processed feed to tsukuba's relay.

Real relays (two ``Server``s on 127.0.0.1), real aiortc cameras, partners and viewers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from peers import PatternTrack, delete, publish, watch
from servers import running, small_config
from two_relays import SceneTrack, token, two_relays, wait_until

from window.config import PushConfig, load
from window.errors import ConfigError
from window.media import source_state
from window.privacy.faces import CenterFace
from window.signalling.ice_servers import link_targets


def bright(img: np.ndarray) -> bool:
    return float(img.mean()) > 150


def dark(img: np.ndarray) -> bool:
    return float(img.mean()) < 100


async def test_the_pushed_feed_arrives_and_is_forwarded_not_reencoded(tmp_path: Path) -> None:
    async with two_relays(tmp_path) as pair:
        origin, far = pair.origin, pair.far
        pub, track = await publish(origin.url, "bochum", token(origin, "camera", "bochum"))
        viewer = await watch(far.url, "bochum", token(far, "viewer"))
        await viewer.wait_for(bright)
        feed = far.relay.feeds["bochum"]
        await wait_until(lambda: feed.snapshot_source() == "relay", what="forwarding")
        assert isinstance(track, PatternTrack)
        track.level = 40  # the camera's picture changes: the far viewer follows
        await viewer.wait_for(lambda img: 20 < img.mean() < 90)
        encoded, forwarded = feed.frames_out.total, feed.frames_forwarded.total
        await viewer.wait_frames(30)
        # the far relay forwards what arrives: no encode of its own while forwarding
        assert feed.frames_forwarded.total - forwarded >= 25
        assert feed.frames_out.total - encoded <= 1
        assert feed.snapshot()["camera_size"] == [640, 360]  # what arrives (the origin's size)
        # the origin encodes once for its own viewers and the push alike
        assert origin.relay.feeds["bochum"].snapshot()["viewers"] == 1  # the push
        # the far side's receiver reports (about one a second) carry the round-trip time
        await wait_until(lambda: pair.push.snapshot()["rtt_ms"] is not None, 10,
                         "the push's round-trip time")
        snap = pair.push.snapshot()
        assert snap["state"] == "connected" and snap["reconnects"] == 0
        await viewer.close()
        await pub.pc.close()


async def test_camera_leaving_and_returning_and_far_viewer_keyframes(tmp_path: Path) -> None:
    async with two_relays(tmp_path) as pair:
        origin, far = pair.origin, pair.far
        cam = token(origin, "camera", "bochum")
        pub, _ = await publish(origin.url, "bochum", cam)
        viewer = await watch(far.url, "bochum", token(far, "viewer"))
        await viewer.wait_for(bright)
        far_feed = far.relay.feeds["bochum"]
        await wait_until(lambda: pair.push.reporter.sent == "live", 10, "the state sent")
        events = far.events.subscribe()
        # the camera leaves the origin: the push goes on (it carries the origin's slate), and
        # tells the far relay, whose feed is offline (its own slate) until the camera is back
        assert await delete(origin.url, pub.location, cam) == 200
        await pub.pc.close()
        await viewer.wait_for(dark, timeout=8)
        await wait_until(lambda: far_feed.state() == "offline", 8, "the partner's state")
        assert far_feed.ingest is not None and far_feed.ingest.partner_state == "offline"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{far.url}/healthz") as resp:
                assert (await resp.json())["sites"]["bochum"] == "offline"
        while (event := await asyncio.wait_for(events.get(), 5))["type"] != "feed":
            pass  # the screens' event: the feed is offline
        assert event["site"] == "bochum" and event["state"] == "offline"
        far.events.unsubscribe(events)
        pub, _ = await publish(origin.url, "bochum", cam)
        await viewer.wait_for(bright, timeout=8)
        await wait_until(lambda: far_feed.state() == "live", 8, "live again")
        # a late viewer on the far relay gets a picture: its keyframe request went upstream
        plis = far.relay.feeds["bochum"].ingest.plis  # type: ignore[union-attr]
        late = await watch(far.url, "bochum", token(far, "viewer"))
        await late.wait_for(bright, timeout=5)
        assert far.relay.feeds["bochum"].ingest.plis > plis  # type: ignore[union-attr]
        await late.close()
        await viewer.close()
        await pub.pc.close()


async def test_only_a_relay_publisher_is_offered_the_state_extension(tmp_path: Path) -> None:
    async with running(small_config(tmp_path)) as far:
        cam, _ = await publish(far.url, "tsukuba", token(far, "camera", "tsukuba"))
        assert not link_targets(cam.links, source_state.REL)
        relay_token = token(far, "relay", "bochum", "partner")
        partner, _ = await publish(far.url, "bochum", relay_token)
        assert link_targets(partner.links, source_state.REL) == [partner.location + "/state"]
        feed = far.relay.feeds["bochum"]
        await wait_until(lambda: feed.state() == "live", 15, "the partner's feed")
        async with aiohttp.ClientSession() as http:
            async def put(body: object, bearer: str = relay_token) -> int:
                async with http.put(f"{far.url}{partner.location}/state", json=body,
                                    headers={"Authorization": f"Bearer {bearer}"}) as resp:
                    return resp.status

            assert await put({"state": "asleep"}) == 400
            assert await put({"state": "offline"}, token(far, "viewer")) == 403
            assert feed.state() == "live"
            assert await put({"state": "offline"}) == 204
            assert feed.state() == "offline"
            assert await put({"state": "live"}) == 204
            assert feed.state() == "live"
        await partner.pc.close()
        await cam.pc.close()


async def test_the_far_relay_keeps_its_curtain_and_serves_h264_viewers(tmp_path: Path) -> None:
    async with two_relays(tmp_path) as pair:
        pub, _ = await publish(pair.origin.url, "bochum", token(pair.origin, "camera", "bochum"))
        viewer = await watch(pair.far.url, "bochum", token(pair.far, "viewer"))
        h264 = await watch(pair.far.url, "bochum", token(pair.far, "viewer"), codec="video/H264")
        await viewer.wait_for(bright)
        await h264.wait_for(bright)  # a transcode: VP8 arrives, these viewers need H.264
        feed = pair.far.relay.feeds["bochum"]
        assert feed.snapshot()["codecs"] == {"vp8": 1, "h264": 1}
        assert feed.snapshot_source() == "relay"  # the VP8 viewers still get it forwarded
        # Tsukuba's operators lower their curtain on the partner's feed: their slate at once
        feed.set_paused(True)
        await viewer.wait_for(dark, timeout=3)
        await h264.wait_for(dark, timeout=3)
        assert feed.state() == "paused"
        feed.set_paused(False)
        await viewer.wait_for(bright, timeout=5)
        await viewer.close()
        await h264.close()
        await pub.pc.close()


async def test_the_push_survives_either_relay_restarting(tmp_path: Path) -> None:
    async with two_relays(tmp_path) as pair:
        pub, _ = await publish(pair.origin.url, "bochum", token(pair.origin, "camera", "bochum"))
        viewer = await watch(pair.far.url, "bochum", token(pair.far, "viewer"))
        await viewer.wait_for(bright)
        await viewer.close()

        # the far relay restarts (same address, same keys): the push comes back by itself
        await pair.restart_far()
        viewer = await watch(pair.far.url, "bochum", token(pair.far, "viewer"))
        await viewer.wait_for(bright, timeout=20)
        assert pair.push.sessions >= 2

        # the origin restarts: its shutdown DELETEs the push (the far feed goes offline at
        # once), the new origin pushes again, the same far viewer sees the picture again
        await pub.pc.close()
        await pair.restart_origin()
        far_feed = pair.far.relay.feeds["bochum"]
        await wait_until(lambda: far_feed.ingest is None, 5, "the push's DELETE")
        await viewer.wait_for(dark, timeout=8)
        pub, _ = await publish(pair.origin.url, "bochum", token(pair.origin, "camera", "bochum"))
        await viewer.wait_for(bright, timeout=20)
        await viewer.close()
        await pub.pc.close()


async def test_no_push_while_privacy_is_off(tmp_path: Path) -> None:
    async with two_relays(tmp_path, allow_privacy_off=True) as pair:
        pub, _ = await publish(pair.origin.url, "bochum", token(pair.origin, "camera", "bochum"))
        viewer = await watch(pair.far.url, "bochum", token(pair.far, "viewer"))
        await viewer.wait_for(bright)
        pair.origin.relay.feeds["bochum"].privacy.set_mode(load(None, env={}).privacy.mode.OFF)
        far_feed = pair.far.relay.feeds["bochum"]
        await wait_until(lambda: far_feed.ingest is None, 5, "the push to end")
        await asyncio.sleep(1.5)
        assert pair.push.state == "held" and far_feed.ingest is None
        await viewer.wait_for(dark, timeout=5)  # the far relay's own offline slate
        pair.origin.relay.feeds["bochum"].privacy.set_mode(
            load(None, env={}).privacy.mode.FULL)
        await viewer.wait_for(bright, timeout=10)
        await viewer.close()
        await pub.pc.close()


async def test_a_rotated_token_file_is_read_again(tmp_path: Path) -> None:
    async with two_relays(tmp_path, token_file=True) as pair:
        path = tmp_path / "push.token"
        good = path.read_text()
        await wait_until(lambda: pair.push.state == "connected", 10, "the push")
        path.write_text("not-a-token\n")
        await pair.restart_far()  # the push reconnects, with what the file says now
        await wait_until(lambda: pair.push.last_status == 401, 15, "401")
        assert pair.push.state != "connected"
        path.write_text(good)  # the operator puts the new token in place
        await wait_until(lambda: pair.push.state == "connected", 15, "reconnect")


async def test_relay_tokens_publish_only_their_own_site(tmp_path: Path) -> None:
    async with two_relays(tmp_path) as pair:
        far = pair.far
        relay_token = token(far, "relay", "bochum")
        with pytest.raises(AssertionError, match="403"):
            await publish(far.url, "tsukuba", relay_token)
        with pytest.raises(AssertionError, match="403"):
            await watch(far.url, "bochum", relay_token)


def test_push_config_is_validated(tmp_path: Path) -> None:
    def cfg(push: str) -> None:
        f = tmp_path / "w.toml"
        f.write_text('[sites.bochum]\ntimezone = "Europe/Berlin"\n[[sites.bochum.push]]\n'
                     + push)
        load(f, env={})

    cfg('url = "https://relay.example/whip/bochum"\ntoken = "x"\n')
    with pytest.raises(ConfigError, match=r"push\[0\]: set exactly one"):
        cfg('url = "https://relay.example/whip/bochum"\ntoken = "x"\ntoken_file = "/t"\n')
    with pytest.raises(ConfigError, match=r"push\[0\]: set exactly one"):
        cfg('url = "https://relay.example/whip/bochum"\n')
    with pytest.raises(ConfigError, match=r"push\[0\]\.url"):
        cfg('url = "ftp://relay.example/whip/bochum"\ntoken = "x"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        cfg('url = "https://relay.example/whip/bochum"\ntoken = "x"\nsecret = 1\n')
    assert PushConfig().url == ""


def test_the_two_city_example_configs_load() -> None:
    docs = Path(__file__).parent.parent / "docs" / "two-cities"
    pushes = {}
    for city in ("bochum", "tsukuba"):
        cfg = load(docs / f"{city}.toml", env={})
        pushes[city] = {site: [p.url for p in s.push] for site, s in cfg.sites.items() if s.push}
    assert pushes == {"bochum": {"bochum": ["http://127.0.0.1:8081/whip/bochum"]},
                      "tsukuba": {"tsukuba": ["http://127.0.0.1:8080/whip/tsukuba"]}}


async def test_the_audit_catches_a_partner_that_sends_faces(tmp_path: Path) -> None:
    """A "partner" pushes the street with real faces, unblurred: the far relay finds them,
    blurs the feed itself from then on, raises the alert, and keeps it until cleared."""
    reference = CenterFace(threshold=0.5, threads=1)
    async with running(small_config(tmp_path, privacy={"mode": "faces"})) as far:
        admin = token(far, "admin")
        viewer = await watch(far.url, "bochum", token(far, "viewer"))
        feed = far.relay.feeds["bochum"]
        events = far.events.subscribe()
        partner, _ = await publish(far.url, "bochum", token(far, "relay", "bochum", "rogue"),
                                   SceneTrack())
        await wait_until(lambda: feed.audit_alert is not None, 20, "the audit alert")
        tripped_at = asyncio.get_running_loop().time()
        assert feed.snapshot_source() == "relay-local"
        await asyncio.sleep(0.5)  # frames already on their way when it tripped
        seen = 0
        while asyncio.get_running_loop().time() - tripped_at < 3.0:
            await viewer.wait_frames(1)
            image = viewer.last_image
            assert image is not None
            found = [b for b in await asyncio.to_thread(reference.detect, image) if b[4] >= 0.5]
            assert not found, "a face reached a viewer after the audit tripped"
            seen += 1
        assert seen >= 3
        assert feed.frames_out.total > 0  # the far relay encodes the partner's feed itself
        audit_events = []
        while not events.empty():
            event = events.get_nowait()
            if event["type"] == "audit":
                audit_events.append(event)
        assert audit_events and audit_events[0]["alert"]["faces"] >= 1
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {admin}"}
            async with http.get(f"{far.url}/api/status", headers=headers) as resp:
                status = await resp.json()
            site = status["sites"]["bochum"]
            assert site["audit"]["alert"]["subject"] == "rogue"
            assert site["source"] == "relay-local"
            async with http.get(f"{far.url}/healthz") as resp:
                assert "bochum" in (await resp.json())["audit_alerts"]
            async with http.get(f"{far.url}/metrics", headers=headers) as resp:
                assert 'window_audit_alert{site="bochum"} 1.0' in await resp.text()
            # the alert stays (also across the partner reconnecting) until an operator clears
            await partner.pc.close()
            partner, _ = await publish(far.url, "bochum", token(far, "relay", "bochum", "rogue"),
                                       SceneTrack())
            await wait_until(lambda: feed.ingest is not None, 5, "the partner back")
            assert feed.snapshot_source() == "relay-local"
            async with http.post(f"{far.url}/api/sites/bochum/audit/clear",
                                 headers=headers) as resp:
                assert resp.status == 200
            assert feed.audit_alert is None
            # still faces: caught again
            await wait_until(lambda: feed.audit_alert is not None, 20, "the second alert")
            async with http.get(f"{far.url}/api/audit", headers=headers) as resp:
                actions = [e["action"] for e in (await resp.json())["entries"]]
            assert "audit.clear" in actions and actions.count("audit.tripped") >= 1
        far.events.unsubscribe(events)
        await viewer.close()
        await partner.pc.close()
