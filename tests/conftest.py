from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from servers import running, small_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with running(small_config(tmp_path)) as srv:
        yield srv


TokenFactory = Callable[..., str]


@pytest.fixture
def token(server: Server) -> TokenFactory:
    def make(role: str, site: str | None = None, ttl_s: int = 600) -> str:
        return mint(server.cfg, server.keys, role=Role(role), ttl_s=ttl_s, site=site)[0]

    return make
