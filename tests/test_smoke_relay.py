from __future__ import annotations

from peers import publish, watch

from window.app import Server


async def test_publisher_to_viewer(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    pub, _ = await publish(server.url, "bochum", token("camera", "bochum"))
    viewer = await watch(server.url, "bochum", token("viewer", "bochum"))
    await viewer.wait_frames(20)
    await viewer.close()
    await pub.pc.close()
