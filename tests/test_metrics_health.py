"""/metrics (Prometheus text, protected), /healthz and /readyz, as a scraper sees them."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from peers import publish, watch
from servers import make_config

from window.app import Server


async def get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        return r.status, await r.text()


def value(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {prefix!r}")


async def test_metrics_need_a_token_and_count_the_feed(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    assert (await get(f"{server.url}/metrics"))[0] == 401
    assert (await get(f"{server.url}/metrics", token("viewer")))[0] == 403
    await get(f"{server.url}/metrics", "garbage")
    pub, _ = await publish(server.url, "bochum", token("camera", "bochum"))
    viewer = await watch(server.url, "bochum", token("viewer"))
    await viewer.wait_frames(30)
    status, text = await get(f"{server.url}/metrics", token("admin"))
    assert status == 200
    assert value(text, 'window_feed_state{site="bochum",state="live"}') == 1
    assert value(text, 'window_feed_state{site="tsukuba",state="offline"}') == 1
    assert value(text, 'window_feed_viewers{site="bochum"}') == 1
    assert value(text, 'window_publisher_connected{site="bochum"}') == 1
    assert value(text, 'window_feed_frames_encoded_total{site="bochum"}') >= 30
    assert value(text, 'window_keyframes_total{site="bochum"}') >= 1
    assert value(text, 'window_encode_ms_count{site="bochum"}') >= 30
    assert value(text, 'window_privacy_ms_count{site="bochum"}') >= 30
    assert value(text, 'window_sessions{kind="viewer"}') == 1
    assert value(text, 'window_token_rejections_total{reason="token malformed"}') >= 1
    assert value(text, 'window_http_responses_total{method="POST",status="201"}') >= 2
    assert value(text, 'window_http_responses_total{method="GET",status="401"}') >= 1
    assert 'window_privacy_whole_frame_total{reason="mode",site="bochum"}' in text or \
        'window_privacy_whole_frame_total{site="bochum",reason="mode"}' in text
    await viewer.close()
    await pub.pc.close()


async def test_scrape_token(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, server={"metrics_token": "s3cret-scrape-token"},
                      media={"width": 320, "height": 180})
    server = Server(cfg)
    await server.start()
    try:
        assert (await get(f"{server.url}/metrics", "s3cret-scrape-token"))[0] == 200
        assert (await get(f"{server.url}/metrics", "wrong"))[0] == 401
    finally:
        await server.close()


async def test_health_and_readiness(server: Server) -> None:
    status, text = await get(f"{server.url}/healthz")
    assert status == 200 and '"bochum": "offline"' in text
    status, text = await get(f"{server.url}/readyz")
    assert status == 200 and '"ready": true' in text
    await server.relay.feeds["bochum"].close()  # a dead pipeline is not ready
    status, text = await get(f"{server.url}/readyz")
    assert status == 503 and '"pipeline": false' in text
