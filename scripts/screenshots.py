"""Screenshots of every page as its users see it, for docs/screenshots/.

Starts `window demo` (relay plus simulated street cameras with real faces, privacy mode
"people"), opens each page in Debian's headless Chromium and saves PNGs. Run:
    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required",
         "--disable-features=WebRtcHideLocalIpsWithMdns"]


async def main(port: int = 8765) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "window", "demo", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        text = ""
        while "Ctrl+C" not in text:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("the demo did not start")
            text += line
        urls = dict(re.findall(r"^\s*(admin|viewer|screen in \w+).*?(http://\S+)$", text,
                               re.M))
        views = re.findall(r"(http://\S+/view/\w+#token=\S+)", text)
        screens = re.findall(r"(http://\S+/screen/\w+#token=\S+)", text)
        await asyncio.sleep(6)  # the privacy filter warms up, cameras go live
        OUT.mkdir(parents=True, exist_ok=True)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            shots = [("demo-view.png", views[0], (1280, 800)),
                     ("demo-screen.png", screens[0], (1920, 1080)),
                     ("demo-admin.png", urls["admin"], (1920, 1200)),
                     ("demo-view-phone.png", views[1], (390, 844))]
            for name, url, (w, h) in shots:
                page = await browser.new_page(viewport={"width": w, "height": h})
                await page.goto(url)
                await page.wait_for_function(
                    "() => [...document.querySelectorAll('video:not(.hidden)')].every(v => v.videoWidth > 0"
                    " && v.getVideoPlaybackQuality().totalVideoFrames > 20)", timeout=30000)
                await asyncio.sleep(2)
                await page.screenshot(path=str(OUT / name))
                print("saved", OUT / name)
                await page.close()
            await browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


if __name__ == "__main__":
    asyncio.run(main())
