"""The documentation matches the code: every metric the Grafana dashboard and the alert rules
use is exported by a real running relay, and every `window …` command shown in the docs
parses with the real command-line parser."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import aiohttp
from peers import PatternTrack, publish, watch
from prometheus_client.parser import text_string_to_metric_families
from servers import make_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint
from window.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
METRIC = re.compile(r"\bwindow_[a-z0-9_]+")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


# --- metric names -------------------------------------------------------------------------------

def dashboard_metrics() -> set[str]:
    dash = json.loads((DOCS / "grafana-dashboard.json").read_text())
    exprs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "definition") and isinstance(value, str):
                    exprs.append(value)
                elif key == "query" and isinstance(value, dict):
                    exprs.append(str(value.get("query", "")))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dash)
    assert exprs, "no queries found in the dashboard"
    return {m for e in exprs for m in METRIC.findall(e)}


def alert_rule_metrics() -> set[str]:
    text = (DOCS / "operations.md").read_text()
    blocks = [b for b in FENCE.findall(text) if "groups:" in b and "alert:" in b]
    assert blocks, "no alert rules (a yaml block with groups: and alert:) in operations.md"
    names: set[str] = set()
    for block in blocks:
        for line in block.splitlines():
            line = line.split(" #", 1)[0]
            if line.lstrip().startswith("#"):
                continue
            names.update(METRIC.findall(line))
    return names


def exported(text: str) -> set[str]:
    """Every series name a scraper can query, including a family's that has no sample yet."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
        names.update(sample.name for sample in family.samples)
    return names


async def scrape_real_relay(tmp_path: Path) -> str:
    cfg = make_config(tmp_path, privacy={"mode": "full"},
                      media={"width": 320, "height": 180, "camera_timeout_s": 1.5})
    server = Server(cfg)
    await server.start()
    try:
        def token(role: Role, site: str | None = None) -> str:
            return mint(cfg, server.keys, role=role, ttl_s=120, site=site)[0]

        async with aiohttp.ClientSession() as http:
            # a refused token, so the rejection counter has a sample
            async with http.get(f"{server.url}/api/status",
                                headers={"Authorization": "Bearer not-a-token"}) as r:
                assert r.status == 401
            pub, _ = await publish(server.url, "bochum", token(Role.CAMERA, "bochum"),
                                   PatternTrack(320, 180))
            viewer = await watch(server.url, "bochum", token(Role.VIEWER))
            try:
                await viewer.wait_frames(10)
                async with http.get(f"{server.url}/metrics", headers={
                        "Authorization": f"Bearer {token(Role.ADMIN)}"}) as r:
                    assert r.status == 200
                    return await r.text()
            finally:
                await viewer.close()
                await pub.pc.close()
    finally:
        await server.close()


async def test_documented_metrics_exist_on_a_running_relay(tmp_path: Path) -> None:
    text = await scrape_real_relay(tmp_path)
    names = exported(text)
    # the scrape is real: a live feed with a viewer
    assert 'window_feed_state{site="bochum",state="live"} 1.0' in text
    assert "window_privacy_whole_frame_total" in names
    used = {"dashboard": dashboard_metrics(), "alert rules": alert_rule_metrics()}
    assert len(used["dashboard"]) >= 10 and len(used["alert rules"]) >= 5
    for where, metrics in used.items():
        missing = sorted(metrics - names)
        assert not missing, f"{where} use metrics the relay does not export: {missing}"


# --- commands -----------------------------------------------------------------------------------

SUBCOMMANDS = {"serve", "token", "camera", "demo"}
SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")


def _is_window(word: str) -> bool:
    word = word.rsplit("=", 1)[-1]  # ExecStart=/opt/window/venv/bin/window
    return word == "window" or word.endswith("/bin/window")


def invocations(line: str) -> list[list[str]]:
    """The argument lists of every `window …` invocation in one shell line: plain, through a
    path (`/opt/…/bin/window`), `sudo`, the `window-token` wrapper, `docker compose run …
    relay` (the image's entrypoint is `window`) and inside `$(…)`."""
    found: list[list[str]] = []
    for inner in SUBSTITUTION.findall(line):
        found += invocations(inner)
    line = SUBSTITUTION.sub("X", line)
    line = re.sub(r"(^|\s)#.*$", "", line)  # a shell comment (not the # of a URL fragment)
    try:
        words = shlex.split(line)
    except ValueError:
        return found
    for i, word in enumerate(words):
        rest = words[i + 1:]
        if _is_window(word) and rest and rest[0] in SUBCOMMANDS:
            found.append(rest)
            break
        if word == "window-token" and rest:
            found.append(["token", *rest])
            break
        if word == "relay" and "compose" in words[:i] and rest and rest[0] in SUBCOMMANDS:
            found.append(rest)
            break
    return found


def documented_commands() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md")), DOCS / "window.service"]:
        text = path.read_text()
        blocks = [text] if path.suffix == ".service" else FENCE.findall(text)
        for block in blocks:
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip().removeprefix("$ ")
                # usage synopses such as `[--site SITE]` are not commands
                if re.search(r"\s\[-", line):
                    continue
                for args in invocations(line):
                    if "$@" not in args:  # a wrapper passing its own arguments on
                        out.append((f"{path.name}: {line}", args))
    return out


def test_documented_commands_parse() -> None:
    commands = documented_commands()
    seen = {args[0] for _, args in commands}
    assert {"serve", "token", "camera"} <= seen, seen
    assert len(commands) >= 15
    parser = build_parser()
    bad = []
    for where, args in commands:
        try:
            parser.parse_args(args)
        except SystemExit:
            bad.append(where)
    assert not bad, "commands in the docs that `window` rejects:\n" + "\n".join(bad)


def test_the_extractor_finds_what_it_should() -> None:
    assert invocations("window serve --config window.toml   # the relay") == [
        ["serve", "--config", "window.toml"]]
    assert invocations('echo "T=$(docker compose run --rm -T relay token create --role camera '
                       '--site bochum --ttl 365d)" >> .env') == [
        ["token", "create", "--role", "camera", "--site", "bochum", "--ttl", "365d"]]
    assert invocations("sudo window-token revoke JTI --reason x") == [
        ["token", "revoke", "JTI", "--reason", "x"]]
    assert invocations("ExecStart=/opt/window/venv/bin/window serve --config /etc/w.toml") == [
        ["serve", "--config", "/etc/w.toml"]]
    assert invocations("curl -fsS $RELAY/healthz") == []
