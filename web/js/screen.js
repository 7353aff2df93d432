// @ts-check
/**
 * /screen/{site}#token=…[&camera=…]: the kiosk page of a public screen standing in {site}.
 * Shows the partner site full-screen with its name and local time; a calm slate with the
 * reason when the partner is not live; recovers by itself from every outage, forever: server
 * restarts and network loss (events socket and player reconnect with backoff, a stalled video
 * is re-dialled), camera loss (the relay's feed carries the slate, then video again on the same
 * connection), and token expiry (the token renews itself at half its life via /api/renew).
 * With a camera token as well, it publishes this screen's own camera over WHIP.
 */
import { Backoff, sleep } from "./backoff.js";
import { SiteClock } from "./clock.js";
import { EventsClient } from "./events.js";
import { LivePlayer } from "./player.js";
import { FragmentToken } from "./token.js";
import { $, stateMessage, tokenMessage } from "./ui.js";
import { WhipClient } from "./whip.js";

const here = decodeURIComponent(location.pathname.split("/")[2] || "");
const token = new FragmentToken("token");
const cameraToken = new FragmentToken("camera");
/** @type {any} the partner site's summary */
let partner = { site: "", title: "", state: "connecting" };
/** @type {SiteClock | null} */
let clock = null;
let lastDown = Date.now(); // until the first connection, count as down

/** @param {string} title @param {string} why */
function slate(title, why) {
  const el = $("slate");
  const show = why !== "";
  $("slate-title").textContent = title;
  $("slate-why").textContent = why;
  el.setAttribute("aria-hidden", String(!show));
  document.documentElement.dataset.slate = show ? why : "";
}

function render() {
  document.documentElement.dataset.feedState = partner.state;
  if (partner.title) $("city").textContent = partner.title;
  slate(partner.title, stateMessage(partner));
}

/** @param {any} s */
function setPartner(s) {
  partner = { ...partner, ...s };
  if (s.timezone && (!clock || clock.timeZone !== s.timezone)) {
    clock?.stop();
    clock = new SiteClock($("clock"), s.timezone, { withDate: false }).start();
  }
  render();
}

/** Renew the token when half its life is gone; on failure retry, never give up. */
async function keepTokenFresh(/** @type {(t: string) => void} */ onRenewed) {
  const backoff = new Backoff({ baseMs: 5000, maxMs: 300000 });
  for (;;) {
    const life = token.lifetime ?? 3600;
    const left = token.secondsLeft();
    const wait = Math.max(0, left - Math.max(life / 2, 30));
    await sleep(Math.min(wait * 1000, 2 ** 31 - 1));
    try {
      const resp = await fetch("/api/renew", { method: "POST",
                                               headers: { Authorization: `Bearer ${token.value}` } });
      if (resp.ok) {
        const body = await resp.json();
        token.replace(body.token);
        onRenewed(body.token);
        backoff.reset();
        continue;
      }
    } catch { /* the relay is unreachable: try again */ }
    await backoff.sleep();
  }
}

/** Publish this screen's own camera (two-way window), forever. */
async function publishCamera() {
  const backoff = new Backoff({ baseMs: 1000, maxMs: 30000 });
  const pip = /** @type {HTMLVideoElement} */ ($("pip"));
  /** @type {MediaStream | null} */
  let stream = null;
  for (;;) {
    const client = new WhipClient(`/whip/${encodeURIComponent(here)}`, cameraToken.value);
    try {
      if (!stream || stream.getVideoTracks().every((t) => t.readyState === "ended")) {
        stream = await navigator.mediaDevices.getUserMedia({
          video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
          audio: false });
        pip.srcObject = stream;
        pip.classList.remove("hidden");
      }
      const pc = await client.publish(stream);
      document.documentElement.dataset.publishing = "connecting";
      await new Promise((resolve) => {
        const check = () => {
          const st = pc.connectionState;
          if (st === "connected") {
            document.documentElement.dataset.publishing = "live";
            backoff.reset();
          }
          if (st === "failed" || st === "closed"
              || stream?.getVideoTracks().every((t) => t.readyState === "ended")) {
            clearInterval(timer);
            resolve(undefined);
          }
        };
        const timer = setInterval(check, 500);
      });
    } catch (e) {
      document.documentElement.dataset.publishing = "error";
      const err = /** @type {any} */ (e);
      if (err?.denied) await sleep(60000);
    }
    client.close();
    await backoff.sleep();
  }
}

function main() {
  if (!token.wellFormed) {
    slate("Virtual Window", "This screen has no valid access token. Please call the operators.");
    return;
  }
  if (token.claims?.site && token.claims.site !== here) {
    slate("Virtual Window", `This screen's link belongs to a screen in ${token.claims.site}, `
          + `not ${here}. Please call the operators.`);
    return;
  }
  const events = new EventsClient(token.value);
  let player = /** @type {LivePlayer | null} */ (null);

  events.addEventListener("hello", (e) => {
    const { sites } = /** @type {CustomEvent} */ (e).detail;
    if (!player && sites.length) {
      // A screen token may watch exactly its partner: that is the site to show.
      const site = sites[0];
      partner.site = site;
      player = new LivePlayer(/** @type {HTMLVideoElement} */ ($("video")),
                              { endpoint: `/whep/${encodeURIComponent(site)}`,
                                token: () => token.value, deniedRetryMs: 60000 });
      player.addEventListener("state", (ev) => {
        const { state } = /** @type {CustomEvent} */ (ev).detail;
        document.documentElement.dataset.player = state;
        if (state === "playing") render();
      });
      player.start();
      Object.assign(window, { vw: { player, events } });
    } else {
      player?.reconnectSoon();
    }
  });
  events.addEventListener("snapshot", (e) => {
    const s = /** @type {CustomEvent} */ (e).detail.sites[partner.site];
    if (s) setPartner(s);
  });
  events.addEventListener("feed", (e) => {
    const m = /** @type {CustomEvent} */ (e).detail;
    if (m.site === partner.site) setPartner(m);
  });
  events.addEventListener("down", () => { lastDown = Date.now(); });
  events.addEventListener("error", (e) => {
    const { reason } = /** @type {CustomEvent} */ (e).detail;
    slate(partner.title || "Virtual Window", tokenMessage(reason) + " (Operators: this screen "
          + "needs a new link.)");
  });
  // While the relay is unreachable, say so calmly, but only if it lasts (blips stay invisible).
  setInterval(() => {
    if (!events.connected && lastDown && Date.now() - lastDown > 5000 && !events.denied) {
      slate(partner.title || "Virtual Window", "Reconnecting to the window… one moment.");
      document.documentElement.dataset.feedState = "unreachable";
    } else if (events.connected && document.documentElement.dataset.feedState === "unreachable") {
      render();
    }
  }, 1000);
  events.start();
  keepTokenFresh((t) => { events.setToken(t); player?.reconnectSoon(); });
  if (cameraToken.wellFormed) publishCamera();
}

main();
