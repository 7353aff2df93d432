"""``window demo``: a relay and a simulated camera for every site, on this machine.

Nothing else to install or start. Prints the pages to open, with tokens in their fragments.

``window demo --two-relays``: the two-city layout on one machine. One relay per city
(Bochum's on ``port``, Tsukuba's on ``port + 1``), each with its own simulated camera, and a
push each way: each relay sends only its own city's processed feed to the other, with a
token of role ``relay`` minted by the receiving relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path

from .auth.roles import Role
from .auth.tokens import mint
from .config import PushConfig, load

log = logging.getLogger("window.demo")


async def _show_until_stopped(lines: list[str], cameras: list[asyncio.Task[int]],
                              stop: asyncio.Event) -> None:
    print("\n".join(lines), flush=True)
    await stop.wait()
    for c in cameras:
        c.cancel()
    await asyncio.gather(*cameras, return_exceptions=True)


async def run_demo(host: str, port: int, data: Path | None, stop: asyncio.Event) -> int:
    from .app import Server
    from .camera import run_camera

    with contextlib.ExitStack() as stack:
        if data is None:
            data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="window-demo-")))
        cfg = load(None, flags={"server": {"host": host, "port": port, "data_dir": str(data)}})
        server = Server(cfg)
        await server.start()
        url = server.url
        day = 24 * 3600

        def token(role: Role, site: str | None = None, subject: str = "demo") -> str:
            return mint(cfg, server.keys, role=role, ttl_s=day, site=site, subject=subject)[0]

        cameras = [
            asyncio.create_task(run_camera(url, name, token(Role.CAMERA, name, f"{name}-cam"),
                                           "test", stop=stop), name=f"demo-camera-{name}")
            for name in cfg.sites
        ]
        lines = ["", "Virtual Window demo is running. Open:"]
        admin = token(Role.ADMIN, subject="demo-admin")
        lines.append(f"  admin     {url}/admin#token={admin}")
        for name, site in cfg.sites.items():
            lines.append(f"  viewer    {url}/view/{name}#token={token(Role.VIEWER, name)}")
            if site.partner:
                lines.append(f"  screen in {name} (shows {site.partner}): "
                             f"{url}/screen/{name}#token={token(Role.SCREEN, name)}")
        lines.append("Press Ctrl+C to stop.")
        await _show_until_stopped(lines, cameras, stop)
        await server.close(drain_s=0.5)
    return 0


async def run_two_relays_demo(host: str, port: int, data: Path | None,
                              stop: asyncio.Event) -> int:
    from .app import Server
    from .camera import run_camera

    with contextlib.ExitStack() as stack:
        if data is None:
            data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="window-demo-")))
        servers: dict[str, Server] = {}
        for i, city in enumerate(("bochum", "tsukuba")):
            cfg = load(None, flags={"server": {"host": host, "port": port + i if port else 0,
                                               "data_dir": str(data / city)}})
            servers[city] = Server(cfg)
            await servers[city].start()
        day = 24 * 3600

        def token(server: Server, role: Role, site: str | None = None,
                  subject: str = "demo") -> str:
            return mint(server.cfg, server.keys, role=role, ttl_s=day, site=site,
                        subject=subject)[0]

        cameras = []
        lines = ["", "Virtual Window demo, two cities: one relay each, a push each way."]
        for city, server in servers.items():
            partner = next(c for c in servers if c != city)
            far = servers[partner]
            # The receiving relay mints the token; the pushing relay presents it.
            relay_token = token(far, Role.RELAY, city, f"{city}-relay")
            server.relay.pushes.add(city, PushConfig(url=f"{far.url}/whip/{city}",
                                                     token=relay_token))
            cameras.append(asyncio.create_task(
                run_camera(server.url, city, token(server, Role.CAMERA, city, f"{city}-cam"),
                           "test", stop=stop), name=f"demo-camera-{city}"))
            title = server.cfg.sites[city].title
            lines += [
                f"{title}'s relay {server.url}: its camera publishes here, pushed to {far.url}",
                f"  admin      {server.url}/admin#token={token(server, Role.ADMIN)}",
                f"  screen in {city} (shows {partner}, pushed from {far.url}): "
                f"{server.url}/screen/{city}#token={token(server, Role.SCREEN, city)}",
                f"  viewer     {server.url}/view/{partner}#token="
                f"{token(server, Role.VIEWER, partner)}",
            ]
        lines.append("Press Ctrl+C to stop.")
        await _show_until_stopped(lines, cameras, stop)
        await asyncio.gather(*(s.close(drain_s=0.5) for s in servers.values()))
    return 0
