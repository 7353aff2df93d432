"""What the browser tests ask a page: is its video playing, and how bright is it."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from playwright.async_api import Page

# Debian's Chromium (never a downloaded browser), with flags that work on these machines.
CHROMIUM = os.environ.get("WINDOW_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]

SHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"

_FRAMES = """(sel) => { const v = document.querySelector(sel);
  return v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0; }"""

_BRIGHTNESS = """(sel) => { const v = document.querySelector(sel);
  if (!v || !v.videoWidth) return -1;
  const c = document.createElement('canvas'); c.width = 64; c.height = 36;
  const g = c.getContext('2d', {willReadFrequently: true}); g.drawImage(v, 0, 0, 64, 36);
  const d = g.getImageData(0, 0, 64, 36).data; let s = 0;
  for (let i = 0; i < d.length; i += 4) s += (d[i] + d[i + 1] + d[i + 2]) / 3;
  return s / (d.length / 4); }"""


async def frames(page: Page, sel: str = "video") -> int:
    return int(await page.evaluate(_FRAMES, sel))


async def brightness(page: Page, sel: str = "video") -> float:
    return float(await page.evaluate(_BRIGHTNESS, sel))


async def wait_playing(page: Page, sel: str = "video", n: int = 10, timeout: float = 15) -> None:
    """The video has a size and decodes ``n`` more frames."""
    deadline = time.monotonic() + timeout
    start = await frames(page, sel)
    while True:
        width = await page.evaluate("(s) => document.querySelector(s)?.videoWidth ?? 0", sel)
        if width > 0 and await frames(page, sel) >= start + n:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{sel} not playing: width {width}, "
                                 f"frames {await frames(page, sel)} (from {start})")
        await asyncio.sleep(0.1)


async def wait_brightness(page: Page, above: float | None = None, below: float | None = None,
                          sel: str = "video", timeout: float = 5) -> float:
    deadline = time.monotonic() + timeout
    while True:
        b = await brightness(page, sel)
        if b >= 0 and (above is None or b > above) and (below is None or b < below):
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"brightness {b:.0f}, wanted above {above} below {below}")
        await asyncio.sleep(0.05)


async def wait_attr(page: Page, name: str, value: str, timeout: float = 5) -> float:
    """Wait until <html data-NAME> equals ``value``; returns when."""
    await page.wait_for_function(
        "([n, v]) => document.documentElement.dataset[n] === v", arg=[name, value],
        timeout=timeout * 1000, polling=50)
    return time.monotonic()


def collect_errors(page: Page) -> list[str]:
    """Uncaught script errors of ``page``, collected from now on."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


async def shot(page: Page, name: str) -> None:
    """A screenshot for docs/screenshots/, taken only with WINDOW_SCREENSHOTS=1 set (so a
    test run leaves the checkout as it was)."""
    if not os.environ.get("WINDOW_SCREENSHOTS"):
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / name))


AXE = Path(__file__).resolve().parent.parent.parent / "node_modules" / "axe-core" / "axe.min.js"


async def axe_findings(page: Page) -> list[str]:
    """axe-core's findings on the live page, one line each ("rule (impact): nodes").

    axe comes from the npm registry (package.json, `npm install`), never from the web, and is
    evaluated through the DevTools protocol, which a page's Content-Security-Policy does not
    stop (the page itself loads scripts from 'self' only)."""
    if not AXE.is_file():
        raise AssertionError(f"{AXE} missing: run `npm install` (package.json has axe-core)")
    source = AXE.read_text(encoding="utf-8")
    await page.evaluate(f"() => {{ {source}\n; window.__axe = axe; }}")
    result = await page.evaluate("""async () => {
      const r = await window.__axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help}: ` +
        v.nodes.map((n) => n.target.join(" ")).join(", "));
    }""")
    return [str(line) for line in result]
