"""The relay end to end: real aiortc publishers and viewers, a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from peers import PatternTrack, delete, publish, watch

from window.app import Server


def bright(img: np.ndarray) -> bool:
    return float(img.mean()) > 150


def dark(img: np.ndarray) -> bool:
    return float(img.mean()) < 100


async def test_frames_reach_every_viewer(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    pub, _ = await publish(server.url, "bochum", token("camera", "bochum"))
    viewers = [await watch(server.url, "bochum", token("viewer")) for _ in range(3)]
    for v in viewers:
        await v.wait_frames(30)
        await v.wait_for(bright)
    feed = server.relay.feeds["bochum"]
    assert feed.snapshot()["viewers"] == 3
    # one encode for all of them: the feed's packet count is not multiplied by viewers
    frames_out = feed.frames_out.total
    assert all(v.count <= frames_out + 5 for v in viewers)
    for v in viewers:
        await v.close()
    await pub.pc.close()


async def test_late_joiner_gets_a_picture_quickly(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    pub, _ = await publish(server.url, "bochum", token("camera", "bochum"))
    first = await watch(server.url, "bochum", token("viewer"))
    await first.wait_frames(30)
    await asyncio.sleep(2.0)  # well past the first keyframe
    started = time.monotonic()
    late = await watch(server.url, "bochum", token("viewer"))
    await late.wait_frames(1, timeout=5)
    assert late.frames[0][0] - started < 1.5, "a new viewer waits for a keyframe too long"
    await late.close()
    await first.close()
    await pub.pc.close()


async def test_camera_gone_slate_then_back_on_the_same_viewer(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    cam = token("camera", "bochum")
    pub, _ = await publish(server.url, "bochum", cam)
    viewer = await watch(server.url, "bochum", token("viewer", "bochum"))
    await viewer.wait_for(bright)
    assert await delete(server.url, pub.location, cam) == 200
    await pub.pc.close()
    await viewer.wait_for(dark, timeout=5)  # the offline slate is dark blue
    assert server.relay.feeds["bochum"].state() == "offline"
    pub2, _ = await publish(server.url, "bochum", cam)
    await viewer.wait_for(bright, timeout=8)
    assert server.relay.feeds["bochum"].state() == "live"
    await viewer.close()
    await pub2.pc.close()


async def test_camera_that_vanishes_without_delete_shows_slate(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    pub, _ = await publish(server.url, "bochum", token("camera", "bochum"))
    viewer = await watch(server.url, "bochum", token("viewer"))
    await viewer.wait_for(bright)
    await pub.pc.close()  # no DELETE: frames just stop
    await viewer.wait_for(dark, timeout=6)
    await viewer.close()


async def test_new_camera_session_replaces_the_old(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    cam = token("camera", "bochum")
    pub1, _track1 = await publish(server.url, "bochum", cam)
    viewer = await watch(server.url, "bochum", token("viewer"))
    await viewer.wait_for(bright)
    track2 = PatternTrack()
    track2.level = 40
    pub2, _ = await publish(server.url, "bochum", cam, track2)
    await viewer.wait_for(dark, timeout=5)
    # the old session is gone; the new one is the camera
    assert await delete(server.url, pub1.location, cam) == 404
    feed = server.relay.feeds["bochum"]
    assert feed.publisher_id == pub2.location.rsplit("/", 1)[1]
    assert feed.state() == "live"
    await viewer.close()
    await pub1.pc.close()
    await pub2.pc.close()


async def test_no_raw_pixels_leave_the_relay(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    """A fine checkerboard goes in; in mode "full" only 32-pixel blocks of flat colour come out."""
    track = PatternTrack()
    yy, xx = np.mgrid[0:360, 0:640]
    board = (((xx // 4) + (yy // 4)) % 2 * 255).astype(np.uint8)
    track.image = np.dstack([board, board, board])
    pub, _ = await publish(server.url, "bochum", token("camera", "bochum"), track)
    viewer = await watch(server.url, "bochum", token("viewer"))
    await viewer.wait_frames(20)
    await asyncio.sleep(0.5)
    img = viewer.last_image
    assert img is not None
    gray = img.mean(axis=2)
    # inside each 32x32 block the picture is (nearly) flat: the 4 px squares are gone
    inner = gray[4:356, 4:636]
    blocks = inner[: 352 // 32 * 32, : 632 // 32 * 32]
    assert float(np.abs(np.diff(gray[40:60, 40:60], axis=1)).max()) < 40
    assert float(blocks.std()) < 40
    await viewer.close()
    await pub.pc.close()


async def test_survives_garbage_while_a_viewer_keeps_receiving(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    import aiohttp

    pub, _ = await publish(server.url, "bochum", token("camera", "bochum"))
    viewer = await watch(server.url, "bochum", token("viewer"))
    await viewer.wait_frames(10)
    good = token("viewer")
    bodies = [b"", b"v=0\r\n", b"\xff\xfe\x00garbage", b"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
              b"a=fingerprint:sha-256 00\r\na=ice-ufrag:x\r\na=ice-pwd:y\r\n" * 3, b"x" * 60000]
    async with aiohttp.ClientSession() as http:
        for _ in range(5):
            for body in bodies:
                async with http.post(f"{server.url}/whep/bochum", data=body, headers={
                        "Authorization": f"Bearer {good}",
                        "Content-Type": "application/sdp"}) as r:
                    assert r.status == 400, await r.text()
                    assert (await r.text()).count("\n") == 1
    before = viewer.count
    await viewer.wait_frames(15)
    assert viewer.count > before
    await viewer.close()
    await pub.pc.close()


async def test_h264_only_viewer_gets_its_own_shared_encoding(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    pub, _ = await publish(server.url, "bochum", token("camera", "bochum"))
    vp8 = await watch(server.url, "bochum", token("viewer"), codec="video/VP8")
    h264 = [await watch(server.url, "bochum", token("viewer"), codec="video/H264")
            for _ in range(2)]
    for v in (vp8, *h264):
        await v.wait_frames(20)
        await v.wait_for(bright)
    assert "H264" in h264[0].peer.answer and "VP8" not in h264[0].peer.answer
    feed = server.relay.feeds["bochum"]
    assert feed.snapshot()["codecs"] == {"vp8": 1, "h264": 2}
    for v in (vp8, *h264):
        await v.close()
    await pub.pc.close()


async def test_viewer_offering_audio_and_video_gets_video(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    """Common WHEP players offer audio first; the relay sends no sound, only the picture."""
    from aiortc import RTCConfiguration, RTCPeerConnection
    from peers import post_offer

    pub, _ = await publish(server.url, "bochum", token("camera", "bochum"))
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    tracks: list = []  # type: ignore[type-arg]
    pc.on("track", tracks.append)
    peer = await post_offer(server.url, "/whep/bochum", token("viewer"), pc)
    assert "m=audio 0 " in peer.answer or "a=inactive" in peer.answer.split("m=video")[0]
    video = next(t for t in tracks if t.kind == "video")
    frame = await asyncio.wait_for(video.recv(), 10)
    assert frame.width == 640
    await pc.close()
    await pub.pc.close()


async def test_camera_with_a_microphone_publishes_video_only(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    """OBS and browsers send sound too; voices identify people, so sound never leaves."""
    from aiortc import RTCConfiguration, RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack
    from peers import post_offer

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    pc.addTransceiver(PatternTrack(), direction="sendonly")
    peer = await post_offer(server.url, "/whip/bochum", token("camera", "bochum"), pc)
    audio_part = peer.answer.split("m=video")[0]
    assert "a=inactive" in audio_part or "m=audio 0 " in audio_part
    viewer = await watch(server.url, "bochum", token("viewer"))
    await viewer.wait_for(bright)
    await viewer.close()
    await pc.close()
