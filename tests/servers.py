"""Building real relay configurations for tests (importable from any test folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from window.config import Config, load


def make_config(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    flags: dict[str, dict[str, Any]] = {"server": {"port": 0, "data_dir": str(tmp_path)}}
    for name, values in sections.items():
        flags.setdefault(name, {}).update(values)
    return load(None, env={}, flags=flags)
