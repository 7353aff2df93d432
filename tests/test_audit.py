"""The receiving relay's audit of a partner's feed: no alert on a properly blurred feed, and
its sampling cadence (fast after a (re)connection and a change, steady otherwise).

The partner that sends faces is in ``tests/test_two_relays.py``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from peers import publish, watch
from two_relays import SceneTrack, token, two_relays, wait_until

from window.config import AuditConfig, PrivacyConfig, PrivacyMode
from window.media.audit import Audit


async def test_a_partner_that_blurs_properly_raises_no_alert(tmp_path: Path) -> None:
    """The street with real faces at the origin, blurred there (``people``, then ``faces``,
    then ``full``): the far relay's audit samples it, at its fast cadence after each change,
    and never trips."""
    async with two_relays(tmp_path, origin={"privacy": {"mode": "people"}}) as pair:
        origin, far = pair.origin, pair.far
        pub, _ = await publish(origin.url, "bochum", token(origin, "camera", "bochum"),
                               SceneTrack())
        viewer = await watch(far.url, "bochum", token(far, "viewer"))
        feed = far.relay.feeds["bochum"]
        origin_feed = origin.relay.feeds["bochum"]
        await wait_until(lambda: origin_feed.privacy.stats.filtered > 0, 60,
                         "the origin's face layer")
        await wait_until(lambda: feed.snapshot_source() == "relay", 30, "forwarding")

        def samples() -> int:
            ingest = feed.ingest
            return ingest.audit.samples if ingest is not None and ingest.audit else 0

        for mode in ("people", "faces", "full"):
            origin_feed.privacy.set_mode(PrivacyMode(mode))
            origin_feed.wake()
            origin_feed.request_keyframe()  # a change the far side sees: a burst of samples
            start = samples()
            await wait_until(lambda start=start: samples() >= start + 12, 60,  # type: ignore[misc]
                             f"audit samples of mode {mode}")
            assert feed.audit_alert is None, f"false alarm on a feed blurred by {mode}"
            assert feed.snapshot_source() == "relay"
        assert far.relay.audit_alerts == 0
        await viewer.close()
        await pub.pc.close()


async def test_the_audit_samples_fast_after_a_change_and_settles() -> None:
    cfg = AuditConfig(fps=2.0, burst_fps=10.0, burst_s=3.0)
    audit = Audit("bochum", PrivacyConfig(), cfg, lambda _detail: None)
    try:
        now = time.monotonic()
        assert audit.interval(now) == 0.1  # the first frame: a (re)connection
        assert audit.interval(now + 2.9) == 0.1
        assert audit.interval(now + 3.1) == 0.5  # settled
        audit._burst_until = now - 1  # (as if 4 s had passed)
        assert audit.interval(now) == 0.5
        audit.changed()  # a keyframe or a new size arrived
        assert audit.interval(time.monotonic()) == 0.1
        audit._burst_until = now - 1
        audit._hits = 1  # a hit is confirmed at the fast cadence
        assert audit.interval(now) == 0.1
    finally:
        audit.close()
        await asyncio.sleep(0)
