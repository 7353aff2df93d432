"""Real headless Chromium (Debian's, never a downloaded one) against the real relay.

One browser per test module (module-scoped event loop); a fresh relay per test. Test modules
here set ``pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from pagetools import CHROMIUM, FLAGS
from playwright.async_api import Browser, async_playwright
from servers import running, small_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - once per module
        if os.environ.get("CI") or os.environ.get("WINDOW_TEST_ALL"):
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    pw = await async_playwright().start()
    try:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
    finally:
        # Bounded: on a loaded machine Chromium's or the driver's exit has hung the module's
        # teardown until pytest-timeout (once, at 300 s). Leftover processes end with pytest.
        for done in (lambda: b.close(), pw.stop):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(done(), 20)


@pytest_asyncio.fixture(loop_scope="module")
async def relay(tmp_path: Path) -> AsyncIterator[Server]:
    async with running(small_config(tmp_path)) as srv:
        yield srv


TokenFactory = Callable[..., str]


@pytest.fixture
def mint_token(relay: Server) -> TokenFactory:
    def make(role: str, site: str | None = None, ttl_s: int = 600, subject: str = "") -> str:
        return mint(relay.cfg, relay.keys, role=Role(role), ttl_s=ttl_s, site=site,
                    subject=subject)[0]

    return make
