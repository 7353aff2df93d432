// @ts-check
/** /view/{site}#token=…: one site's feed, its name and local time, viewer count, full screen. */
import { SiteClock } from "./clock.js";
import { EventsClient } from "./events.js";
import { LivePlayer } from "./player.js";
import { FragmentToken } from "./token.js";
import { $, hoursText, stateMessage, tokenMessage } from "./ui.js";

const site = decodeURIComponent(location.pathname.split("/")[2] || "");
const token = new FragmentToken();
const video = /** @type {HTMLVideoElement} */ ($("video"));
const notice = $("notice");
const badge = $("state");
/** @type {SiteClock | null} */
let clock = null;

/** @param {string} text */
function fatal(text) {
  $("fatal-text").textContent = text;
  $("fatal").classList.remove("hidden");
  document.documentElement.dataset.fatal = text;
}

/** @param {string} text */
function say(text) {
  notice.textContent = text;
  notice.classList.toggle("hidden", !text);
}

/** @param {any} s site summary or feed event */
function showState(s) {
  badge.textContent = s.state;
  badge.dataset.state = s.state;
  document.documentElement.dataset.feedState = s.state;
  say(stateMessage({ ...current, ...s }));
}

/** @type {any} */
let current = { site, title: site };

function main() {
  if (!token.present) return fatal("This page needs a link with an access token. Please ask for one.");
  if (!token.wellFormed) return fatal(tokenMessage("malformed"));
  if (token.expired) return fatal(tokenMessage("expired"));
  // A viewer stops for good when its link expires while watching.
  const left = token.secondsLeft();
  if (left < 2 ** 31 / 1000) setTimeout(() => { stop(); fatal(tokenMessage("expired")); }, left * 1000);

  const player = new LivePlayer(video, { endpoint: `/whep/${encodeURIComponent(site)}`,
                                         token: () => token.value });
  const events = new EventsClient(token.value);
  function stop() { player.stop(); events.stop(); }

  player.addEventListener("state", (e) => {
    const { state, error } = /** @type {CustomEvent} */ (e).detail;
    document.documentElement.dataset.player = state;
    if (state === "denied") { stop(); fatal(tokenMessage(error?.reason ?? "")); }
    else if (state === "retrying" && !events.connected) say("Connection lost. Reconnecting…");
    else if (state === "playing") showState(current);
  });
  events.addEventListener("error", (e) => {
    const { reason } = /** @type {CustomEvent} */ (e).detail;
    stop();
    fatal(tokenMessage(reason));
  });
  events.addEventListener("snapshot", (e) => {
    const s = /** @type {CustomEvent} */ (e).detail.sites[site];
    if (!s) return;
    current = s;
    document.title = `${s.title} · Virtual Window`;
    $("title").textContent = s.title;
    if (!clock || clock.timeZone !== s.timezone) {
      clock?.stop();
      clock = new SiteClock($("clock"), s.timezone).start();
    }
    $("viewers").textContent = String(s.viewers);
    $("hours").textContent = hoursText(s.hours);
    showState(s);
  });
  events.addEventListener("feed", (e) => {
    const m = /** @type {CustomEvent} */ (e).detail;
    if (m.site !== site) return;
    current = { ...current, ...m };
    showState(current);
  });
  events.addEventListener("viewers", (e) => {
    const m = /** @type {CustomEvent} */ (e).detail;
    if (m.site === site) $("viewers").textContent = String(m.count);
  });
  events.addEventListener("down", () => say("Connection lost. Reconnecting…"));
  events.addEventListener("up", () => player.reconnectSoon());

  $("fullscreen").addEventListener("click", () => {
    const stage = $("stage");
    if (document.fullscreenElement) document.exitFullscreen();
    else stage.requestFullscreen?.().catch(() => video.requestFullscreen?.());
  });
  player.start();
  events.start();
  Object.assign(window, { vw: { player, events } });
}

main();
