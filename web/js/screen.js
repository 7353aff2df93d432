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
import { isLanguage, linkLanguage, loadLanguage, pickLanguage, ensureCjkFont, siteName,
         Translator } from "./i18n.js";
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
/** The language of the site this screen stands in (from the relay's hello), until then the
 * link's or the browser's. @type {Translator} */
let tr = new Translator("en", {});
/** @type {[string, string] | null} a fixed message (no token, wrong site, refused) */
let fixed = null;

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
  tr.apply();
  if (fixed) { slate(...fixed); return; }
  const city = siteName(partner, tr.language);
  if (city) {
    $("city").textContent = city;
    // the partner's name in its own language as well: Tsukuba · つくば, ボーフム · Bochum
    const native = partner.language ? siteName(partner, partner.language) : "";
    const el = $("city-native");
    el.textContent = native && native !== city ? native : "";
    el.lang = partner.language ?? "";
    $("video").setAttribute("aria-label", tr.t("screen.video", { city }));
  }
  slate(city || tr.t("app.name"), stateMessage(partner, tr));
}

/** Speak `lang` from now on (the screen's site's language, or the link's). @param {string} lang */
async function speak(lang) {
  const want = linkLanguage() ?? (isLanguage(lang) ? lang : "en");
  if (want === tr.language && Object.keys(tr.messages).length) return;
  try { tr = await loadLanguage(want); } catch { return; }  // the relay is away: try later
  if (clock) clock = restartClock(clock.timeZone);
  render();
}

/** @param {string} timeZone */
function restartClock(timeZone) {
  clock?.stop();
  return new SiteClock($("clock"), timeZone, { withDate: false, locale: tr.locale }).start();
}

/** @param {any} s */
function setPartner(s) {
  partner = { ...partner, ...s };
  if (s.timezone && (!clock || clock.timeZone !== s.timezone)) clock = restartClock(s.timezone);
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

/** Show a message that stays (until the page is reloaded). @param {string} message */
function stay(message) {
  fixed = [tr.t("app.name"), message];
  render();
}

async function main() {
  await ensureCjkFont();
  await speak(pickLanguage(navigator.languages ?? [navigator.language]));
  if (!token.wellFormed) return stay(tr.t("screen.no_token"));
  if (token.claims?.site && token.claims.site !== here) {
    return stay(tr.t("screen.wrong_site", { token_site: token.claims.site, site: here }));
  }
  const events = new EventsClient(token.value);
  let player = /** @type {LivePlayer | null} */ (null);

  events.addEventListener("hello", (e) => {
    const { sites, language } = /** @type {CustomEvent} */ (e).detail;
    fixed = null;  // a good token again
    speak(language);
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
    fixed = [siteName(partner, tr.language) || tr.t("app.name"),
             `${tokenMessage(reason, tr)} ${tr.t("screen.new_link")}`];
    render();
  });
  // While the relay is unreachable, say so calmly, but only if it lasts (blips stay invisible).
  setInterval(() => {
    if (!events.connected && lastDown && Date.now() - lastDown > 5000 && !events.denied) {
      slate(siteName(partner, tr.language) || tr.t("app.name"), tr.t("screen.reconnecting"));
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
