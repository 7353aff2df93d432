// @ts-check
/**
 * /view/{site}#token=…: one site's feed, its name and local time, viewer count, full screen.
 * Speaks the reader's language (the browser's, or the one chosen with the switch, which is
 * remembered); switching re-writes the page at once without touching the video.
 */
import { SiteClock } from "./clock.js";
import { EventsClient } from "./events.js";
import { languageSwitch, loadLanguage, readerLanguage, ensureCjkFont, siteName, Translator }
  from "./i18n.js";
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
/** @type {Translator} */
let tr = new Translator("en", {});
/** @type {any} the site's summary, as the relay last described it */
let current = { site, title: site, state: "connecting" };
/** @type {number | null} */
let viewers = null;
/** What the page says now, as functions of the language (so a switch re-writes it). */
/** @type {(() => string) | null} */
let fatalText = null;
/** @type {(() => string) | null} */
let noticeText = null;

/** @param {() => string} text */
function fatal(text) {
  fatalText = text;
  render();
}

/** @param {(() => string) | null} text */
function say(text) {
  noticeText = text;
  render();
}

/** Write everything the reader reads, in the current language. */
function render() {
  tr.apply();
  const city = siteName(current, tr.language);
  const known = current.timezone !== undefined;
  $("title").textContent = known ? city : tr.t("app.name");
  document.title = known ? `${city} · ${tr.t("app.name")}` : tr.t("app.name");
  video.setAttribute("aria-label", tr.t("view.video", { city }));
  badge.textContent = tr.t(`state.${current.state}`);
  badge.dataset.state = current.state;
  document.documentElement.dataset.feedState = current.state;
  const count = Object.assign(document.createElement("span"), { id: "viewers",
                                                              textContent: String(viewers ?? "–") });
  tr.fill($("watching"), "view.watching", { count });
  $("hours").textContent = known ? hoursText(current.hours, tr) : "–";
  const text = noticeText ? noticeText() : "";
  notice.textContent = text;
  notice.classList.toggle("hidden", !text);
  if (fatalText) {
    const words = fatalText();
    $("fatal-text").textContent = words;
    $("fatal").classList.remove("hidden");
    document.documentElement.dataset.fatal = words;
  }
}

/** @param {any} s site summary or feed event */
function showState(s) {
  current = { ...current, ...s };
  say(() => stateMessage(current, tr));
}

/** @param {"de" | "ja" | "en"} lang */
async function speak(lang) {
  tr = await loadLanguage(lang);
  if (clock) startClock(clock.timeZone);
  render();
}

/** @param {string} timeZone */
function startClock(timeZone) {
  clock?.stop();
  clock = new SiteClock($("clock"), timeZone, { locale: tr.locale }).start();
}

async function main() {
  await ensureCjkFont();
  await speak(readerLanguage());
  languageSwitch(/** @type {HTMLSelectElement} */ ($("lang")), tr.language, (lang) => speak(lang));
  if (!token.present) return fatal(() => tr.t("token.missing"));
  if (!token.wellFormed) return fatal(() => tokenMessage("malformed", tr));
  if (token.expired) return fatal(() => tokenMessage("expired", tr));
  // A viewer stops for good when its link expires while watching.
  const left = token.secondsLeft();
  if (left < 2 ** 31 / 1000) {
    setTimeout(() => { stop(); fatal(() => tokenMessage("expired", tr)); }, left * 1000);
  }

  const player = new LivePlayer(video, { endpoint: `/whep/${encodeURIComponent(site)}`,
                                         token: () => token.value });
  const events = new EventsClient(token.value);
  function stop() { player.stop(); events.stop(); }

  player.addEventListener("state", (e) => {
    const { state, error } = /** @type {CustomEvent} */ (e).detail;
    document.documentElement.dataset.player = state;
    if (state === "denied") { stop(); fatal(() => tokenMessage(error?.reason ?? "", tr)); }
    else if (state === "retrying" && !events.connected) say(() => tr.t("msg.connection_lost"));
    else if (state === "playing") showState(current);
  });
  events.addEventListener("error", (e) => {
    const { reason } = /** @type {CustomEvent} */ (e).detail;
    stop();
    fatal(() => tokenMessage(reason, tr));
  });
  events.addEventListener("snapshot", (e) => {
    const s = /** @type {CustomEvent} */ (e).detail.sites[site];
    if (!s) return;
    current = s;
    viewers = s.viewers;
    if (!clock || clock.timeZone !== s.timezone) startClock(s.timezone);
    showState(s);
  });
  events.addEventListener("feed", (e) => {
    const m = /** @type {CustomEvent} */ (e).detail;
    if (m.site === site) showState(m);
  });
  events.addEventListener("viewers", (e) => {
    const m = /** @type {CustomEvent} */ (e).detail;
    if (m.site !== site) return;
    viewers = m.count;
    render();
  });
  events.addEventListener("down", () => say(() => tr.t("msg.connection_lost")));
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
