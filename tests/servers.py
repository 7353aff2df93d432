"""Real relays for tests (importable from any test folder)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from window.app import Server
from window.config import Config, load


def make_config(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    flags: dict[str, dict[str, Any]] = {"server": {"port": 0, "data_dir": str(tmp_path)}}
    for name, values in sections.items():
        flags.setdefault(name, {}).update(values)
    return load(None, env={}, flags=flags)


def small_config(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    """What most tests use: 640×360 keeps the suite quick on 2 cores (the full size is
    measured in benchmarks), whole-frame privacy so pictures are predictable."""
    base: dict[str, dict[str, Any]] = {
        "media": {"width": 640, "height": 360, "camera_timeout_s": 1.5},
        "privacy": {"mode": "full"},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return make_config(tmp_path, **base)


@asynccontextmanager
async def running(cfg: Config) -> AsyncIterator[Server]:
    server = Server(cfg)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
