"""Screenshots of every page as its users see it, for docs/screenshots/.

Starts `window demo` (relay plus simulated street cameras with real faces, privacy mode
"people"), opens each page in Debian's headless Chromium and saves PNGs. Run:
    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required",
         "--disable-features=WebRtcHideLocalIpsWithMdns"]


async def main(port: int = 8765) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "window", "demo", "--port", str(port)],  # noqa: ASYNC220
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
        screen_of = {re.search(r"/screen/(\w+)#", u).group(1): u for u in screens}  # type: ignore[union-attr]
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
                    "() => [...document.querySelectorAll('video:not(.hidden)')]"
                    ".every(v => v.videoWidth > 0"
                    " && v.getVideoPlaybackQuality().totalVideoFrames > 20)", timeout=30000)
                await asyncio.sleep(2)
                await page.screenshot(path=str(OUT / name))
                print("saved", OUT / name)
                await page.close()
            # each city's screen in its own language: Tsukuba's in Japanese, Bochum's in German,
            # live and with the partner's curtain down (the slate in the screen's language)
            admin = urllib.parse.unquote(urls["admin"].split("#token=")[1])
            base = urls["admin"].split("/admin")[0]
            for here, partner, lang in [("tsukuba", "bochum", "ja"), ("bochum", "tsukuba", "de")]:
                page = await browser.new_page(viewport={"width": 1920, "height": 1080})
                await page.goto(screen_of[here])
                await page.wait_for_function(
                    "(lang) => document.documentElement.lang === lang && "
                    "document.documentElement.dataset.feedState === 'live' && "
                    "document.getElementById('video').getVideoPlaybackQuality()"
                    ".totalVideoFrames > 20", arg=lang, timeout=30000)
                await asyncio.sleep(2)
                await page.screenshot(path=str(OUT / f"screen-{here}-{lang}.png"))
                print("saved", OUT / f"screen-{here}-{lang}.png")
                for down in (True, False):
                    request = urllib.request.Request(
                        f"{base}/api/sites/{partner}/curtain", method="POST",
                        data=json.dumps({"down": down}).encode(),
                        headers={"Authorization": f"Bearer {admin}",
                                 "Content-Type": "application/json"})
                    await asyncio.to_thread(urllib.request.urlopen, request)
                    if down:
                        await page.wait_for_function(
                            "() => document.documentElement.dataset.feedState === 'paused'")
                        await asyncio.sleep(1.5)  # the overlay fades in
                        await page.screenshot(path=str(OUT / f"screen-{here}-{lang}-paused.png"))
                        print("saved", OUT / f"screen-{here}-{lang}-paused.png")
                await page.close()
            await browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


if __name__ == "__main__":
    asyncio.run(main())
