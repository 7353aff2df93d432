"""Two real relays on loopback for the tests: an origin that pushes bochum to a far relay."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from peers import PatternTrack
from servers import small_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint
from window.camera.publisher import Backoff
from window.camera.scene import TestScene
from window.config import Config, PushConfig


def token(server: Server, role: str, site: str | None = None, subject: str = "") -> str:
    return mint(server.cfg, server.keys, role=Role(role), ttl_s=600, site=site,
                subject=subject)[0]


def quick(push: Any) -> None:
    """A push that notices a dead partner and retries within seconds (tests only)."""
    push.backoff = Backoff(initial=0.2, cap=1.0)
    push.rtcp_timeout = 10.0
    push.slow_retry = 1.0


@dataclass
class Pair:
    origin: Server
    far: Server
    far_cfg: Config
    origin_cfg: Config

    @property
    def push(self) -> Any:
        return self.origin.relay.pushes.pushes[0]

    async def restart_far(self) -> None:
        await self.far.close()
        self.far = Server(self.far_cfg)
        await self.far.start()

    async def restart_origin(self) -> None:
        await self.origin.close()
        self.origin = Server(self.origin_cfg, allow_privacy_off=self.origin.relay.allow_privacy_off)
        await self.origin.start()
        quick(self.push)


@asynccontextmanager
async def two_relays(tmp_path: Path, *, push_token: str | None = None, token_file: bool = False,
                     far: dict[str, dict[str, Any]] | None = None,
                     origin: dict[str, dict[str, Any]] | None = None,
                     allow_privacy_off: bool = False,
                     push_via: Callable[[Server], Awaitable[str]] | None = None,
                     ) -> AsyncIterator[Pair]:
    """The far relay (tsukuba's) first, so the origin (bochum's) can be told where to push.
    Both keep their ports and data dirs across restarts (the relay token stays valid).
    ``push_via(far)`` may return another base URL for the push (such as an impaired link's
    signalling proxy in front of the far relay); the push goes to ``BASE/whip/bochum``."""
    far_cfg = small_config(tmp_path / "far", **(far or {}))
    far_srv = Server(far_cfg)
    await far_srv.start()
    far_cfg.server.port = far_srv.port
    relay_token = push_token or token(far_srv, "relay", "bochum", "bochum-relay")
    origin_cfg = small_config(tmp_path / "origin", **(origin or {}))
    base = await push_via(far_srv) if push_via is not None else far_srv.url
    push = PushConfig(url=f"{base}/whip/bochum")
    if token_file:
        path = tmp_path / "push.token"
        path.write_text(relay_token + "\n")
        push = dataclasses.replace(push, token_file=str(path))
    else:
        push = dataclasses.replace(push, token=relay_token)
    origin_cfg.sites["bochum"].push = [push]
    origin_srv = Server(origin_cfg, allow_privacy_off=allow_privacy_off)
    await origin_srv.start()
    origin_cfg.server.port = origin_srv.port
    pair = Pair(origin_srv, far_srv, far_cfg, origin_cfg)
    quick(pair.push)
    try:
        yield pair
    finally:
        await pair.origin.close()
        await pair.far.close()


class SceneTrack(PatternTrack):
    """The synthetic street with real, unblurred faces: what a misconfigured partner sends."""

    def __init__(self, width: int = 640, height: int = 360, fps: int = 15) -> None:
        super().__init__(width, height, fps)
        self.scene = TestScene(width, height, fps, seed=3, people=3, max_head=170)

    def picture(self) -> np.ndarray:
        return np.ascontiguousarray(self.scene.render(time.time()))


async def wait_until(predicate: Any, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
