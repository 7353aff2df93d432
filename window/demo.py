"""``window demo``: a relay and a simulated camera for every site, on this machine.

Nothing else to install or start. Prints the pages to open, with tokens in their fragments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path

from .auth.roles import Role
from .auth.tokens import mint
from .config import load

log = logging.getLogger("window.demo")


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
        print("\n".join(lines), flush=True)
        await stop.wait()
        for c in cameras:
            c.cancel()
        await asyncio.gather(*cameras, return_exceptions=True)
        await server.close(drain_s=0.5)
    return 0
