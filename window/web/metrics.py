"""``/metrics`` in the Prometheus text format.

Figures are read from the relay's own counters at scrape time, so the media path pays nothing
for them. Protected: an admin token, or the static ``server.metrics_token`` for a scraper.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from ..auth.guard import bearer_token
from ..auth.roles import Permission
from ..media.feed import FeedState
from ..media.rate import Histogram

if TYPE_CHECKING:
    from ..app import Server

HTTP_COUNTS = web.AppKey("http_counts", dict)


def _histogram(name: str, doc: str, per_site: dict[str, Histogram]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["site"])
    for site, hist in per_site.items():
        buckets = hist.cumulative()
        family.add_metric([site], buckets, sum_value=hist.sum)
    return family


def _two_relays(relay: Any) -> Iterator[Metric]:
    """Pushes to partner relays, feeds arriving from them, and the audit of those."""
    labels = ["site", "url"]
    up = GaugeMetricFamily("window_push_connected", "1 while a push is connected", labels=labels)
    reconnects = CounterMetricFamily("window_push_reconnects", "push sessions after the first",
                                     labels=labels)
    rtt = GaugeMetricFamily("window_push_rtt_seconds", "round-trip time to the partner",
                            labels=labels)
    lost = CounterMetricFamily("window_push_packets_lost", "packets the partner reports lost",
                               labels=labels)
    for p in relay.pushes.pushes:
        key = [p.site, p.target]
        up.add_metric(key, 1.0 if p.state == "connected" else 0.0)
        reconnects.add_metric(key, float(max(0, p.sessions - 1)))
        if p.rtt_ms is not None:
            rtt.add_metric(key, p.rtt_ms / 1000)
        if p.packets_lost is not None:
            lost.add_metric(key, float(p.packets_lost))
    yield from (up, reconnects, rtt, lost)
    source = GaugeMetricFamily("window_feed_from_relay",
                               "1 while a feed arrives from a partner relay; mode: forward "
                               "(as it arrives) or local (processed here)",
                               labels=["site", "mode"])
    forwarded = CounterMetricFamily("window_feed_frames_forwarded",
                                    "arriving frames forwarded without re-encoding",
                                    labels=["site"])
    alert = GaugeMetricFamily("window_audit_alert", "1 while an audit alert stands",
                              labels=["site"])
    for site, feed in relay.feeds.items():
        if feed.ingest is not None:
            source.add_metric([site, "forward" if feed.ingest.forwarding else "local"], 1.0)
        forwarded.add_metric([site], float(feed.frames_forwarded.total))
        alert.add_metric([site], 1.0 if feed.audit_alert is not None else 0.0)
    yield from (source, forwarded, alert)
    trips = CounterMetricFamily("window_audit_alerts", "audit alerts raised since start")
    trips.add_metric([], float(relay.audit_alerts))
    yield trips


class RelayCollector:
    def __init__(self, server: Server, http_counts: dict[tuple[str, int], int]) -> None:
        self.server = server
        self.http_counts = http_counts

    def collect(self) -> Iterator[Metric]:
        relay = self.server.relay
        feeds = relay.feeds

        def gauge(name: str, doc: str, value: Any) -> GaugeMetricFamily:
            g = GaugeMetricFamily(name, doc, labels=["site"])
            for site, feed in feeds.items():
                g.add_metric([site], float(value(feed)))
            return g

        def counter(name: str, doc: str, value: Any) -> CounterMetricFamily:
            c = CounterMetricFamily(name, doc, labels=["site"])
            for site, feed in feeds.items():
                c.add_metric([site], float(value(feed)))
            return c

        state = GaugeMetricFamily("window_feed_state", "1 for the feed's current state",
                                  labels=["site", "state"])
        for site, feed in feeds.items():
            current = feed.state()
            for s in FeedState:
                state.add_metric([site, str(s)], 1.0 if s is current else 0.0)
        yield state
        yield gauge("window_feed_fps_in", "camera frames per second received",
                    lambda f: f.frames_in.rate())
        yield gauge("window_feed_fps_out", "frames per second encoded for viewers",
                    lambda f: f.frames_out.rate())
        yield gauge("window_feed_viewers", "viewers of the feed", lambda f: len(f.viewers))
        yield gauge("window_publisher_connected", "1 when a camera is connected",
                    lambda f: f.publisher_id is not None)
        yield counter("window_feed_frames_encoded", "frames encoded (once for all viewers)",
                      lambda f: f.frames_out.total)
        yield counter("window_feed_encoded_bytes", "bytes the shared encoder produced",
                      lambda f: f.bytes_out)
        yield counter("window_feed_bytes_sent", "bytes handed to viewers' senders",
                      lambda f: f.bytes_delivered)
        yield counter("window_keyframes", "keyframes encoded", lambda f: f.keyframes)
        yield counter("window_keyframe_requests", "keyframes asked for (joins, PLI/FIR)",
                      lambda f: f.keyframe_requests)
        yield counter("window_privacy_frames", "camera frames through the privacy step",
                      lambda f: f.privacy.stats.frames)
        yield _histogram("window_encode_ms", "milliseconds per shared encode",
                         {s: f.encode_hist for s, f in feeds.items()})
        yield _histogram("window_privacy_ms", "milliseconds per privacy step",
                         {s: f.privacy.stats.latency_hist for s, f in feeds.items()})
        whole = CounterMetricFamily("window_privacy_whole_frame",
                                    "frames pixelated whole, by reason",
                                    labels=["site", "reason"])
        for site, feed in feeds.items():
            for reason, n in dict(feed.privacy.stats.whole_by_reason).items():
                whole.add_metric([site, reason], float(n))
        yield whole
        mode = GaugeMetricFamily("window_privacy_mode", "1 for the feed's privacy mode",
                                 labels=["site", "mode"])
        for site, feed in feeds.items():
            mode.add_metric([site, str(feed.privacy.mode)], 1.0)
        yield mode
        sessions = GaugeMetricFamily("window_sessions", "open WHIP/WHEP sessions",
                                     labels=["kind"])
        kinds: dict[str, int] = {"publisher": 0, "viewer": 0}
        for session in list(relay.sessions.values()):
            kinds[str(session.kind)] = kinds.get(str(session.kind), 0) + 1
        for kind, n in kinds.items():
            sessions.add_metric([kind], float(n))
        yield sessions
        rejections = CounterMetricFamily("window_token_rejections", "tokens refused, by reason",
                                         labels=["reason"])
        for reason, n in dict(self.server.guard.rejections).items():
            rejections.add_metric([reason], float(n))
        yield rejections
        refused = CounterMetricFamily("window_sessions_refused",
                                      "media sessions refused, by reason (token_limit, "
                                      "at_capacity, camera_live)",
                                      labels=["reason", "site", "role"])
        for (reason, site, role), n in dict(relay.admission.refused).items():
            refused.add_metric([reason, site, role], float(n))
        yield refused
        dropped = CounterMetricFamily("window_candidates_dropped",
                                      "remote ICE candidates the relay refused to check")
        dropped.add_metric([], float(relay.candidates.dropped))
        yield dropped
        http = CounterMetricFamily("window_http_responses", "HTTP responses by status",
                                   labels=["method", "status"])
        for (method, status), n in dict(self.http_counts).items():
            http.add_metric([method, str(status)], float(n))
        yield http
        yield from _two_relays(relay)
        yield from _tier_metrics(self.server)
        up = GaugeMetricFamily("window_uptime_seconds", "seconds since the relay started")
        up.add_metric([], relay.uptime_s)
        yield up


def _tier_metrics(server: Server) -> Iterator[Metric]:
    """The audience tier per site and instance (only sites that have one)."""
    labels = ["site", "instance"]
    up = GaugeMetricFamily("window_tier_up", "1 when the tier instance answers", labels=labels)
    viewers = GaugeMetricFamily("window_tier_viewers", "viewers the tier instance reports",
                                labels=labels)
    handed = CounterMetricFamily("window_tier_handed", "viewers handed to the tier instance",
                                 labels=labels)
    failures = CounterMetricFamily("window_tier_failures", "hand-overs the instance refused",
                                   labels=labels)
    fallbacks = CounterMetricFamily("window_tier_fallbacks",
                                    "viewers the relay served because no instance answered",
                                    labels=["site"])
    for site, tier in server.tier.sites.items():
        for i in tier.instances:
            up.add_metric([site, i.label], 1.0 if i.reachable else 0.0)
            if i.viewers is not None:
                viewers.add_metric([site, i.label], float(i.viewers))
            handed.add_metric([site, i.label], float(i.handed))
            failures.add_metric([site, i.label], float(i.failures))
        fallbacks.add_metric([site], float(tier.fallbacks))
    yield from (up, viewers, handed, failures, fallbacks)


def metrics_routes(server: Server, http_counts: dict[tuple[str, int], int]
                   ) -> list[web.RouteDef]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RelayCollector(server, http_counts))  # type: ignore[arg-type]
    scrape_token = server.cfg.server.metrics_token

    async def metrics(request: web.Request) -> web.Response:
        token = bearer_token(request)
        # Bytes: compare_digest refuses str with non-ASCII characters (a 500 otherwise).
        if not (scrape_token and hmac.compare_digest(token.encode("utf-8", "surrogateescape"),
                                                     scrape_token.encode())):
            server.guard.check(token, Permission.OPERATE)
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST,
                                                "Cache-Control": "no-store"})

    return [web.get("/metrics", metrics)]
