"""The typed configuration: layers, the commented example, and bad configs with their errors."""

from __future__ import annotations

import dataclasses
import enum
import tomllib
from pathlib import Path
from typing import Any

import pytest

from window.config import Config, PrivacyMode, load
from window.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "docs" / "window.toml"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def test_example_config_equals_the_defaults() -> None:
    with EXAMPLE.open("rb") as fh:
        example = tomllib.load(fh)
    assert example == _plain(Config())


def test_example_config_loads() -> None:
    assert _plain(load(EXAMPLE, env={})) == _plain(Config())


def test_layers_file_then_env_then_flags(tmp_path: Path) -> None:
    f = tmp_path / "w.toml"
    f.write_text('[server]\nport = 9001\nhost = "0.0.0.0"\n[privacy]\nmode = "faces"\n')
    cfg = load(f, env={"WINDOW_SERVER__PORT": "9002", "WINDOW_DATA": "/srv/w"},
               flags={"server": {"port": 9003, "host": None}})
    assert cfg.server.port == 9003  # flag beats env beats file
    assert cfg.server.host == "0.0.0.0"  # unset flag does not override
    assert cfg.server.data_dir == "/srv/w"
    assert cfg.privacy.mode is PrivacyMode.FACES
    cfg = load(f, env={"WINDOW_SERVER__PORT": "9002"})
    assert cfg.server.port == 9002


def test_sites_in_a_file_replace_the_default_pair(tmp_path: Path) -> None:
    f = tmp_path / "w.toml"
    f.write_text('[sites.lyon]\ntimezone = "Europe/Paris"\npartner = "kyoto"\n'
                 '[sites.kyoto]\ntimezone = "Asia/Tokyo"\npartner = "lyon"\n'
                 'hours = ["mon-fri 08:00-22:00"]\n')
    cfg = load(f, env={})
    assert set(cfg.sites) == {"lyon", "kyoto"}
    assert cfg.sites["kyoto"].hours == ["mon-fri 08:00-22:00"]


BAD = [
    ('[server]\nprot = 1\n', "unknown key 'server.prot'"),
    ('[serve]\nport = 1\n', "unknown key 'serve'"),
    ('[server]\nport = "x"\n', "server.port: expected an integer, got 'x'"),
    ('[server]\nport = 70000\n', "server.port: 0 (any free port) to 65535"),
    ('[privacy]\nmode = "blur"\n', "privacy.mode: 'blur' is not one of people, faces, full, "
                                   "curtain, off"),
    ('[sites.Bochum]\ntimezone = "UTC"\n', "sites.Bochum: site names are lowercase"),
    ('[sites.a]\ntimezone = "Mars/Base"\n', "sites.a.timezone: unknown time zone 'Mars/Base'"),
    ('[sites.a]\npartner = "b"\n', "sites.a.partner: unknown site 'b'"),
    ('[sites.a]\ncolour = "red"\n', "unknown key 'sites.a.colour'"),
    ('[sites.a]\nhours = ["mon 22:00-08:00"]\n', "sites.a.hours: 'mon 22:00-08:00': the span"),
    ('[sites.a]\nhours = ["daily 8-22"]\n', "sites.a.hours: 'daily 8-22' is not like"),
    ('[sites.a]\nzones = [[[0, 0], [2, 0], [0, 1]]]\n', "sites.a.zones[0]: a zone is 3 or more"),
    ('[sites.a]\nlanguage = "fr"\n', "sites.a.language: 'fr' is not one of de, ja, en"),
    ('[sites.a]\ntitles = {jp = "x"}\n', "sites.a.titles.jp: not one of de, ja, en"),
    ('[sites.a]\ntitles = {ja = " "}\n', "sites.a.titles.ja: empty"),
    ('[auth]\nalgorithm = "none"\n', "auth.algorithm: 'none' is not HS256, EdDSA or ES256"),
    ('[auth]\nalgorithm = "EdDSA"\n', "auth.public_key_file: required for EdDSA"),
    ('[auth]\ndefault_ttl = "1w"\n', "auth.default_ttl: '1w' is not a duration"),
    ('[media]\nwidth = 1279\n', "media.width/height: even numbers"),
    ('[media]\nfps = 0\n', "media.fps: 1 to 60"),
    ('[privacy]\nfull_block_px = 1\n', "privacy.full_block_px: at least 16 pixels"),
    ('[privacy]\nmotion_hold_frames = 0\n', "privacy.motion_hold_frames: at least 1"),
    ('[privacy]\nbox_margin = -0.1\n', "privacy.box_margin: 0 to 1"),
    ('[log]\nlevel = "loud"\n', "log.level: debug, info, warning or error"),
    ('server = 3\n', "server: expected a table"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_configs_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(f, env={})
    assert message in str(info.value)


def test_unknown_environment_key_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown key 'sevrer.port'"):
        load(None, env={"WINDOW_SEVRER__PORT": "1"})
    with pytest.raises(ConfigError, match="unknown key 'server.prot'"):
        load(None, env={"WINDOW_SERVER__PROT": "1"})


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml", env={})
    f = tmp_path / "broken.toml"
    f.write_text("[server\n")
    with pytest.raises(ConfigError, match="broken.toml"):
        load(f, env={})


def test_repair_wait_is_checked() -> None:
    assert load(None, env={"WINDOW_MEDIA__REPAIR_WAIT_MS": "0"}, flags={}).media.repair_wait_ms == 0
    with pytest.raises(ConfigError, match="media.repair_wait_ms"):
        load(None, env={"WINDOW_MEDIA__REPAIR_WAIT_MS": "-5"}, flags={})
