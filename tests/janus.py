"""A real Janus audience tier on loopback, started by the tests.

One ``JanusTier`` is one Janus instance (Debian's ``janus``, its own config folder and free
ports, only the VideoRoom and Streaming plugins and the WebSockets transport), Debian's
``simple-whip-server`` in front of it for WHIP ingest (the package's JavaScript, unpacked by
``.ci/run`` because apt refuses to install it next to nodejs), and Meetecho's
``janus-whep-server`` (npm) for WHEP egress (``tools/janus/whep-server.mjs``).

Per site: a VideoRoom room the relay publishes into (WHIP endpoint ``/whip/endpoint/{site}``,
bearer ``push_token``), an RTP forwarder from that room to a Streaming mountpoint (set up by
simple-whip-server's ``recipient``), and a WHEP endpoint ``/whep/endpoint/{site}`` on that
mountpoint (bearer ``whep_token``).

In CI (``CI`` set, as ``.ci/run`` does) a missing part fails the test; elsewhere it skips
with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools" / "janus"
# .ci/run unpacks the Debian package here; an installed package works too.
WHIP_SRC = [TOOLS / "simple-whip-server" / "usr" / "share" / "simple-whip-server" / "src",
            Path("/usr/share/simple-whip-server/src")]
LIBDIR = Path("/usr/lib/x86_64-linux-gnu/janus")
# Everything but VideoRoom, Streaming and WebSockets stays off.
OTHER_PLUGINS = ",".join(f"libjanus_{p}.so" for p in (
    "audiobridge", "duktape", "echotest", "lua", "nosip", "recordplay", "sip", "textroom",
    "videocall", "voicemail"))
OTHER_TRANSPORTS = ",".join(f"libjanus_{t}.so" for t in (
    "http", "mqtt", "nanomsg", "pfunix", "rabbitmq"))


def missing(what: str) -> None:
    """Fail in CI, skip elsewhere: the tier's parts are installed by ``.ci/run``."""
    message = (f"{what}: run .ci/run (it installs janus, unpacks simple-whip-server, "
               "npm-installs tools/janus)")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_pair() -> int:
    """An even UDP port whose successor is free too (RTP + RTCP)."""
    for _ in range(50):
        p = free_port(socket.SOCK_DGRAM)
        p -= p % 2
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
    raise RuntimeError("no free UDP port pair")


def _binaries() -> tuple[str, str, Path]:
    janus = shutil.which("janus")
    if janus is None or not (LIBDIR / "plugins" / "libjanus_streaming.so").exists():
        missing("Debian's janus is not installed")
    node = shutil.which("node")
    if node is None:
        missing("node is not installed")
    src = next((p for p in WHIP_SRC if (p / "server.js").exists()), None)
    if src is None:
        missing("simple-whip-server's JavaScript is not unpacked")
    if not (TOOLS / "node_modules" / "janus-whep-server").exists():
        missing("janus-whep-server is not npm-installed in tools/janus")
    assert janus and node and src
    return janus, node, src


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{url} did not come up: "
                                 + log.read_text(errors="replace")[-3000:])
        time.sleep(0.1)


def _wait_log(proc: subprocess.Popen[bytes], log: Path, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"janus did not start: {log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


@dataclass
class JanusTier:
    """The URLs and credentials of one running tier instance."""

    whip_base: str  # http://127.0.0.1:P/whip
    whep_base: str  # http://127.0.0.1:P/whep
    push_token: str
    whep_token: str
    janus_ws: str
    sites: dict[str, int] = field(default_factory=dict)  # site -> room = mountpoint id
    logs: dict[str, Path] = field(default_factory=dict)
    janus_pid: int = 0
    node_pids: list[int] = field(default_factory=list)  # simple-whip-server, whep-server

    def whip_url(self, site: str) -> str:
        return f"{self.whip_base}/endpoint/{site}"

    def whep_url(self, site: str) -> str:
        return f"{self.whep_base}/endpoint/{site}"

    def stats(self) -> dict[str, int]:
        """Subscribers per WHEP endpoint, as janus-whep-server counts them."""
        req = urllib.request.Request(self.whep_base + "/stats",
                                     headers={"Authorization": f"Bearer {self.whep_token}"})
        with urllib.request.urlopen(req, timeout=3) as r:
            data = json.load(r)
        return {e["id"]: int(e.get("subscribers", 0)) for e in data["endpoints"]}


def _janus_configs(cfg: Path, ws_port: int, sites: dict[str, int],
                   rtp: dict[str, int]) -> None:
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "janus.jcfg").write_text(f"""
general: {{
    configs_folder = "{cfg}"
    plugins_folder = "{LIBDIR}/plugins"
    transports_folder = "{LIBDIR}/transports"
    events_folder = "{LIBDIR}/events"
    loggers_folder = "{LIBDIR}/loggers"
    debug_level = 4
    log_to_stdout = true
}}
media: {{
    rtp_port_range = "40000-60000"
}}
nat: {{
    ice_ignore_list = "vmnet"
}}
plugins: {{
    disable = "{OTHER_PLUGINS}"
}}
transports: {{
    disable = "{OTHER_TRANSPORTS}"
}}
events: {{
    broadcast = false
}}
loggers: {{
    disable = "libjanus_jsonlog.so"
}}
""")
    (cfg / "janus.transport.websockets.jcfg").write_text(f"""
general: {{
    json = "plain"
    ws = true
    ws_port = {ws_port}
    ws_ip = "127.0.0.1"
    wss = false
}}
admin: {{
    admin_ws = false
}}
""")
    rooms = "\n".join(f"""
room-{room}: {{
    description = "{site}"
    publishers = 1
    bitrate = 3000000
    fir_freq = 10
    videocodec = "vp8"
    audiocodec = "opus"
}}""" for site, room in sites.items())
    (cfg / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n" + rooms + "\n")
    mounts = "\n".join(f"""
{site}: {{
    type = "rtp"
    id = {room}
    description = "{site}"
    audio = false
    video = true
    videoport = {rtp[site]}
    videortcpport = {rtp[site] + 1}
    videopt = 96
    videocodec = "vp8"
    videobufferkf = false
    videoiface = "127.0.0.1"
}}""" for site, room in sites.items())
    (cfg / "janus.plugin.streaming.jcfg").write_text("general: {\n}\n" + mounts + "\n")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextmanager
def janus_tier(tmp: Path, sites: list[str], *, push_token: str = "push-secret-0123456789",
               whep_token: str = "whep-secret-0123456789") -> Iterator[JanusTier]:
    """Start Janus, simple-whip-server and janus-whep-server; stop all three afterwards."""
    janus, node, src = _binaries()
    rooms = {site: 100 + i for i, site in enumerate(sites)}
    rtp = {site: free_udp_pair() for site in sites}
    ws_port, whip_port, whep_port = free_port(), free_port(), free_port()
    cfg = tmp / "janus-cfg"
    _janus_configs(cfg, ws_port, rooms, rtp)
    env = {**os.environ, "NODE_PATH": str(TOOLS / "node_modules")}
    with ExitStack() as stack:
        logs: dict[str, Path] = {}

        def start(name: str, argv: list[str], cwd: Path, extra: dict[str, str] | None = None
                  ) -> subprocess.Popen[bytes]:
            logs[name] = tmp / f"{name}.log"
            out = stack.enter_context(logs[name].open("wb"))
            proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                    env={**env, **(extra or {})})
            stack.callback(_stop, proc)
            return proc

        jproc = start("janus", [janus, "-F", str(cfg), "-C", str(cfg / "janus.jcfg"),
                                "-L", str(tmp / "janus-file.log")], tmp)
        _wait_log(jproc, logs["janus"], "WebSockets thread started")
        # simple-whip-server reads ./config.js next to server.js: a copy with ours.
        wsrc = tmp / "whip" / "src"
        wsrc.mkdir(parents=True)
        for f in ("server.js", "whip-janus.js"):
            shutil.copy(src / f, wsrc / f)
        (wsrc / "config.js").write_text(
            "module.exports = " + json.dumps({
                "janus": {"address": f"ws://127.0.0.1:{ws_port}"}, "port": whip_port,
                "rest": "/whip", "allowTrickle": True, "strictETags": False,
                "iceServers": []}) + ";\n")
        wproc = start("whip", [node, "src/server.js"], tmp / "whip",
                      {"DEBUG": "whip:*,-whip:debug,janus:*,-janus:debug,-janus:vdebug"})
        _wait_http(f"http://127.0.0.1:{whip_port}/whip/healthcheck", wproc, logs["whip"])
        for site, room in rooms.items():
            body = json.dumps({"id": site, "room": room, "token": push_token,
                               "label": f"relay {site}",
                               "recipient": {"host": "127.0.0.1", "videoPort": rtp[site],
                                             "videoRtcpPort": rtp[site] + 1}}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{whip_port}/whip/create",
                                         data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=5) as r:
                assert r.status == 200
        eproc = start("whep", [node, str(TOOLS / "whep-server.mjs")], TOOLS, {
            "JANUS_WS": f"ws://127.0.0.1:{ws_port}", "WHEP_PORT": str(whep_port),
            "WHEP_BASE": "/whep", "WHEP_TOKEN": whep_token,
            "WHEP_ENDPOINTS": ",".join(f"{s}={r}" for s, r in rooms.items())})
        _wait_http(f"http://127.0.0.1:{whep_port}/whep/healthcheck", eproc, logs["whep"])
        yield JanusTier(whip_base=f"http://127.0.0.1:{whip_port}/whip",
                        whep_base=f"http://127.0.0.1:{whep_port}/whep",
                        push_token=push_token, whep_token=whep_token,
                        janus_ws=f"ws://127.0.0.1:{ws_port}", sites=rooms, logs=logs,
                        janus_pid=jproc.pid, node_pids=[wproc.pid, eproc.pid])
