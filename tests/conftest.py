from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from servers import make_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    # Small frames keep the suite quick on 2 cores; the full size is exercised in benchmarks.
    cfg = make_config(tmp_path, media={"width": 640, "height": 360, "camera_timeout_s": 1.5},
                      privacy={"mode": "full"})
    srv = Server(cfg)
    await srv.start()
    yield srv
    await srv.close()


TokenFactory = Callable[..., str]


@pytest.fixture
def token(server: Server) -> TokenFactory:
    def make(role: str, site: str | None = None, ttl_s: int = 600) -> str:
        return mint(server.cfg, server.keys, role=Role(role), ttl_s=ttl_s, site=site)[0]

    return make
