// @ts-check
/**
 * /admin#token=…: the operators' dashboard. Every site side by side with its live (blurred)
 * feed and health, one big curtain button per site, privacy mode, sessions with kick, token
 * minting with a copyable link, revocation, and the audit log. Everything goes through the
 * operator API (docs/openapi.yaml); state changes arrive at once over /events.
 */
import { SiteClock } from "./clock.js";
import { EventsClient } from "./events.js";
import { HttpError } from "./http.js";
import { languageSwitch, loadLanguage, readerLanguage, ensureCjkFont, siteName, Translator }
  from "./i18n.js";
import { LivePlayer } from "./player.js";
import { FragmentToken } from "./token.js";
import { $, hoursText, stateMessage, tokenMessage } from "./ui.js";

const token = new FragmentToken();
const STATUS_MS = 2000;
/** The operator's language (their choice, else the browser's). @type {Translator} */
let tr = new Translator("en", {});
/** @type {{uptime_s: number} | null} */
let lastStatus = null;

/** @typedef {{card: HTMLElement, player: LivePlayer, clock: SiteClock | null, summary: any}} Card */
/** @type {Map<string, Card>} */
const cards = new Map();
/** @type {string[]} */
let modes = [];

/**
 * @param {string} method @param {string} path @param {any} [body]
 * @returns {Promise<any>}
 */
async function api(method, path, body) {
  const resp = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token.value}`,
               ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await resp.text();
  if (!resp.ok) throw new HttpError(resp.status, text.trim());
  return text ? JSON.parse(text) : null;
}

/** @param {string} text */
function fatal(text) {
  const el = $("fatal");
  el.textContent = text;
  el.classList.remove("hidden");
  document.documentElement.dataset.fatal = text;
}

/** @param {unknown} e */
function report(e) {
  const err = /** @type {any} */ (e);
  if (err instanceof HttpError && err.status === 401) fatal(tokenMessage(err.reason, tr));
  else alertOnce(tr.t("admin.error", { reason: err instanceof HttpError ? err.reason : String(err) }));
}

/** @param {string} text */
function alertOnce(text) {
  const el = $("fatal");
  el.textContent = text;
  el.classList.remove("hidden");
  setTimeout(() => el.classList.add("hidden"), 6000);
}

/** @param {number} n */
function kb(n) { return n > 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`; }

/** @param {HTMLElement} parent @param {string} sel @returns {any} */
function q(parent, sel) { return /** @type {any} */ (parent.querySelector(sel)); }

/** @param {string} site @param {any} s */
function makeCard(site, s) {
  const tpl = /** @type {HTMLTemplateElement} */ ($("site-card"));
  const card = /** @type {HTMLElement} */ (tpl.content.firstElementChild?.cloneNode(true));
  card.dataset.site = site;
  const heading = q(card, ".title");
  heading.id = `site-${site}`;
  card.setAttribute("aria-labelledby", heading.id);
  const sessionsHeading = q(card, ".sessions-h");
  sessionsHeading.id = `sessions-${site}`;
  q(card, ".table-wrap").setAttribute("aria-labelledby", sessionsHeading.id);
  const video = q(card, "video");
  const curtain = q(card, ".curtain");
  curtain.addEventListener("click", async () => {
    const down = curtain.getAttribute("aria-pressed") !== "true";
    curtain.disabled = true;
    try { update(site, await api("POST", `/api/sites/${site}/curtain`, { down })); loadAudit(); }
    catch (e) { report(e); }
    finally { curtain.disabled = false; }
  });
  const clear = q(card, ".audit-clear");
  clear.addEventListener("click", async () => {
    clear.disabled = true;
    try { await api("POST", `/api/sites/${site}/audit/clear`); await loadStatus(); loadAudit(); }
    catch (e) { report(e); }
    finally { clear.disabled = false; }
  });
  const select = q(card, ".mode");
  select.addEventListener("change", async () => {
    try { update(site, await api("PUT", `/api/sites/${site}/privacy`, { mode: select.value })); }
    catch (e) { report(e); select.value = cards.get(site)?.summary.mode; }
    loadAudit();
  });
  $("sites").append(card);
  const player = new LivePlayer(video, { endpoint: `/whep/${site}`, token: () => token.value });
  player.start();
  const opt = document.createElement("option");
  opt.value = opt.textContent = site;
  $("mint-site").append(opt);
  /** @type {Card} */
  const entry = { card, player, clock: null, summary: s };
  entry.clock = new SiteClock(q(card, ".clock"), s.timezone, { locale: tr.locale }).start();
  cards.set(site, entry);
  return entry;
}

/** @param {string} site @param {any} s partial or full status */
function update(site, s) {
  const entry = cards.get(site) ?? makeCard(site, s);
  const sum = entry.summary = { ...entry.summary, ...s };
  const { card } = entry;
  const city = siteName(sum, tr.language);
  tr.apply(card);
  card.dataset.state = sum.state;
  q(card, ".title").textContent = city;
  q(card, "video").setAttribute("aria-label", tr.t("admin.feed", { city }));
  q(card, ".sessions-h").textContent = tr.t("admin.sessions_of", { city });
  const badge = q(card, ".state");
  badge.textContent = tr.t(`state.${sum.state}`);
  badge.dataset.state = sum.state;
  badge.title = stateMessage(sum, tr);
  const curtain = q(card, ".curtain");
  curtain.setAttribute("aria-pressed", String(!!sum.paused));
  curtain.textContent = tr.t(sum.paused ? "admin.curtain_up" : "admin.curtain_down", { city });
  const select = q(card, ".mode");
  select.setAttribute("aria-label", tr.t("admin.privacy_of", { city }));
  const labels = modes.map((m) => tr.t(`mode.${m}`));
  if ([...select.options].map((o) => o.textContent).join() !== labels.join()) {
    select.replaceChildren(...modes.map((m, i) => Object.assign(document.createElement("option"),
                                                                { value: m, textContent: labels[i] })));
  }
  if (document.activeElement !== select) select.value = sum.mode;
  if (sum.feed) renderHealth(card, sum);
}

/** A definition list of [term, description] rows. @param {HTMLElement} dl @param {string[][]} rows */
function fill(dl, rows) {
  dl.replaceChildren(...rows.flatMap(([k, v]) => [
    Object.assign(document.createElement("dt"), { textContent: k }),
    Object.assign(document.createElement("dd"), { textContent: v }),
  ]));
}

/**
 * The audience tier in one line: reachable, viewers there, how viewers get there.
 * `use` and `handoff` stay as configured (config words, like the privacy modes' keys).
 * @param {any} t the site's `tier` in /api/status
 */
function tierText(t) {
  const up = t.instances.filter((/** @type {any} */ i) => i.reachable).length;
  const viewers = t.viewers != null ? tr.t("admin.tier_viewers", { count: t.viewers })
    : tr.t("admin.tier_viewers_unknown");
  const parts = [tr.t(t.connected ? "admin.tier_connected" : "admin.tier_unreachable"),
                 tr.t("admin.tier_instances", { up, total: t.instances.length }),
                 viewers, `${t.use}, ${t.handoff}`];
  if (t.fallbacks) parts.push(tr.t("admin.tier_fallbacks", { count: t.fallbacks }));
  return parts.join(" · ");
}

/** @param {HTMLElement} card @param {any} s */
function renderHealth(card, s) {
  const p = s.feed.privacy || {};
  const camera = s.camera ? tr.t("admin.camera_on") + (s.resolution ? ` · ${s.resolution.join("×")}` : "")
    : tr.t("admin.camera_off");
  const rows = [
    [tr.t("admin.h_camera"), camera],
    [tr.t("admin.h_frames"), tr.t("admin.frames", { fps_in: s.feed.fps_in, fps_out: s.feed.fps_out })],
    [tr.t("admin.h_bitrate"), s.bitrate_kbps != null ? `${s.bitrate_kbps} kbit/s` : "…"],
    [tr.t("admin.h_privacy"), tr.t("admin.privacy_figures", {
      mode: tr.t(`mode.${s.mode}`), faces: p.faces ?? 0,
      blurred: Math.round((p.blurred_share ?? 0) * 100), p95: p.latency_ms_p95 ?? "–" })],
    [tr.t("admin.h_blurs"), Object.entries(p.whole_frame_blurs || {}).map(([k, v]) => `${k} ${v}`)
      .join(", ") || tr.t("admin.none")],
    [tr.t("admin.h_viewers"), String(s.viewers)],
    ...(s.tier ? [[tr.t("admin.h_tier"), tierText(s.tier)]] : []),
    [tr.t("admin.h_hours"), `${hoursText(s.hours, tr)} · ${tr.t(s.open ? "admin.open_now"
      : "admin.closed_now")}`],
  ];
  fill(q(card, ".health"), rows);
  renderLink(card, s);
  const sessions = [...(s.camera_session ? [s.camera_session] : []), ...s.viewer_sessions];
  q(card, ".sessions").replaceChildren(...sessions.map((x) => {
    const row = document.createElement("tr");
    row.dataset.session = x.id;
    const kind = tr.t(`role.${x.kind === "publisher" ? "camera" : x.role}`);
    const cells = [kind, `${x.subject} (${x.jti})`, x.remote,
                   x.state, x.bytes_sent != null ? kb(x.bytes_sent) : "–",
                   x.stats?.rtt_ms != null ? `${x.stats.rtt_ms} ms` : "–"];
    row.append(...cells.map((c) => Object.assign(document.createElement("td"), { textContent: c })));
    const td = document.createElement("td");
    const kick = Object.assign(document.createElement("button"), { type: "button",
                                                                   textContent: tr.t("admin.kick") });
    kick.setAttribute("aria-label", tr.t("admin.kick_label", { kind, who: x.subject }));
    kick.addEventListener("click", async () => {
      try { await api("DELETE", `/api/sessions/${encodeURIComponent(x.id)}`); row.remove(); loadAudit(); }
      catch (e) { report(e); }
    });
    td.append(kick);
    row.append(td);
    return row;
  }));
}

/** @param {number | null | undefined} t Unix s */
function since(t) {
  return t ? new Date(t * 1000).toLocaleTimeString(tr.locale, { hourCycle: "h23" }) : "?";
}

/** The link between two relays: this site's pushes, a feed arriving from a partner, the
 * audit of that feed and its alert. @param {HTMLElement} card @param {any} s */
function renderLink(card, s) {
  /** @type {string[][]} */
  const rows = [];
  const r = s.relay_source;
  if (r) {
    const how = r.mode === "forward" ? tr.t("admin.link_forwarded")
      : tr.t("admin.link_processed", { mode: r.mode });
    rows.push([tr.t("admin.link_from"), `${r.subject} · ${how} · ${r.fps_in} fps · `
               + tr.t("admin.link_since", { time: since(r.since) })]);
    const a = s.audit || {};
    rows.push([tr.t("admin.link_audit"), a.alert ? tr.t("admin.link_alert")
      : tr.t("admin.link_clean", { samples: a.samples ?? 0 }) + (a.last_ms != null ? ` · ${a.last_ms} ms` : "")]);
  }
  for (const p of s.pushes || []) {
    const figures = p.state === "connected"
      ? ` · ${p.bitrate_kbps ?? "…"} kbit/s · RTT ${p.rtt_ms ?? "–"} ms · lost ${p.packets_lost ?? 0}`
      : (p.last_error ? ` · ${p.last_error}` : "");
    rows.push([tr.t("admin.link_push", { url: p.url }),
               `${p.state} · ${tr.t("admin.link_since", { time: since(p.since) })}${figures} · `
               + tr.t("admin.link_reconnects", { count: p.reconnects })]);
  }
  const link = q(card, ".link");
  link.dataset.pushes = String((s.pushes || []).length);
  fill(link, rows);
  const alertBox = q(card, ".audit-alert");
  const alert = s.audit?.alert;
  card.dataset.audit = alert ? "alert" : "clean";
  alertBox.classList.toggle("hidden", !alert);
  if (alert) {
    q(alertBox, ".audit-text").textContent = tr.t("admin.audit_alert", {
      faces: alert.faces, time: since(alert.at), subject: alert.subject });
  }
}

async function loadStatus() {
  try {
    const st = await api("GET", "/api/status");
    modes = st.modes;
    lastStatus = st;
    $("conn").dataset.i18n = "admin.connected";
    $("conn").dataset.state = "live";
    renderHeader();
    for (const [site, s] of Object.entries(st.sites)) update(site, s);
    if (st.refused) renderRefused(st.refused);
  } catch (e) {
    if (e instanceof HttpError) { report(e); return e.status !== 401 && e.status !== 403; }
    $("conn").dataset.i18n = "admin.unreachable";
    $("conn").dataset.state = "offline";
    renderHeader();
  }
  return true;
}

/** Sessions the relay refused (token limits, capacity, a camera live under another token).
 * @param {{by_reason: Record<string, number>, recent: any[]}} refused */
function renderRefused(refused) {
  $("refused-counts").textContent = Object.entries(refused.by_reason)
    .map(([k, v]) => `${k} ${v}`).join(" · ") || "none";
  $("refused").replaceChildren(...refused.recent.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.reason = r.reason;
    const when = new Date(r.at * 1000).toLocaleString(undefined, { hourCycle: "h23" });
    tr.append(...[when, r.reason, r.site, `${r.subject} (${r.jti})`, r.remote, r.detail]
      .map((c) => Object.assign(document.createElement("td"), { textContent: c })));
    return tr;
  }));
}

async function loadAudit() {
  try {
    const { entries } = await api("GET", "/api/audit?limit=200");
    $("audit").replaceChildren(...entries.map((/** @type {any} */ e) => {
      const row = document.createElement("tr");
      row.dataset.action = e.action;
      const detail = Object.entries(e.detail).filter(([k]) => k !== "role")
        .map(([k, v]) => `${k}=${v}`).join(" ");
      const when = new Date(e.at * 1000).toLocaleString(tr.locale, { hourCycle: "h23" });
      row.append(...[when, e.actor, e.action, e.target, detail, e.remote]
        .map((c) => Object.assign(document.createElement("td"), { textContent: c })));
      return row;
    }));
  } catch (e) { report(e); }
}

function wireForms() {
  const mint = /** @type {HTMLFormElement} */ ($("mint"));
  mint.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(mint);
    try {
      const body = await api("POST", "/api/tokens", {
        role: f.get("role"), site: f.get("site") || null, ttl: f.get("ttl"),
        subject: f.get("subject") || "" });
      const first = Object.values(body.links)[0];
      const link = first ? new URL(String(first), location.href).href : body.token;
      const what = Object.assign(document.createElement("strong"), { id: "mint-what",
        textContent: `${tr.t(`role.${body.role}`)}${body.site ? " · " + body.site : ""}` });
      const jti = Object.assign(document.createElement("code"), { id: "mint-jti",
                                                                  textContent: body.jti });
      tr.fill($("mint-said"), "admin.minted", { what, jti });
      $("mint-link").textContent = link;
      $("mint-qr").replaceChildren();
      $("mint-result").classList.remove("hidden");
      // A QR code of the link, so a screen can be set up from a phone (made by the relay).
      const qr = await api("POST", "/api/qr", { text: link });
      const svg = new DOMParser().parseFromString(qr.svg, "image/svg+xml").documentElement;
      $("mint-qr").replaceChildren(document.importNode(svg, true));
      loadAudit();
    } catch (e) { report(e); }
  });
  $("copy").addEventListener("click", async () => {
    const text = $("mint-link").textContent || "";
    try { await navigator.clipboard.writeText(text); $("copied").textContent = tr.t("admin.copied"); }
    catch {
      const range = document.createRange();
      range.selectNodeContents($("mint-link"));
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
      $("copied").textContent = tr.t("admin.selected");
    }
  });
  const revoke = /** @type {HTMLFormElement} */ ($("revoke"));
  revoke.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(revoke);
    try {
      const r = await api("DELETE", `/api/tokens/${encodeURIComponent(String(f.get("jti")))}`,
                          { reason: f.get("reason") || "" });
      $("revoke-result").textContent = tr.t("admin.revoked", { count: r.sessions_ended });
      revoke.reset();
      loadAudit();
    } catch (e) { report(e); }
  });
  $("audit-refresh").addEventListener("click", loadAudit);
}

/** The header's words (connection, who, uptime), in the current language. */
function renderHeader() {
  tr.apply();
  $("who").textContent = tr.t("admin.signed_in", { name: token.claims?.sub ?? "?" });
  $("uptime").textContent = lastStatus
    ? tr.t("admin.uptime", { minutes: Math.round(lastStatus.uptime_s / 60) }) : "";
}

/** Speak `lang` from now on: the whole dashboard is re-written, the videos keep playing.
 * @param {"de" | "ja" | "en"} lang */
async function speak(lang) {
  tr = await loadLanguage(lang);
  redraw();
}

/** Write the dashboard's words again (after a language switch, or once fonts arrive). */
function redraw() {
  renderHeader();
  for (const [site, entry] of cards) {
    entry.clock?.stop();
    entry.clock = new SiteClock(q(entry.card, ".clock"), entry.summary.timezone,
                                { locale: tr.locale }).start();
    update(site, {});
  }
}

async function main() {
  await ensureCjkFont();
  await speak(readerLanguage());
  languageSwitch(/** @type {HTMLSelectElement} */ ($("lang")), tr.language, (lang) => speak(lang));
  if (!token.wellFormed) return fatal(tokenMessage("malformed", tr));
  if (token.expired) return fatal(tokenMessage("expired", tr));
  wireForms();
  if (!(await loadStatus())) return;
  loadAudit();
  const events = new EventsClient(token.value);
  events.addEventListener("feed", (e) => {
    const m = /** @type {CustomEvent} */ (e).detail;
    if (cards.has(m.site)) update(m.site, m);
  });
  events.addEventListener("viewers", (e) => {
    const m = /** @type {CustomEvent} */ (e).detail;
    if (cards.has(m.site)) update(m.site, { viewers: m.count });
  });
  events.addEventListener("audit", () => { loadStatus(); loadAudit(); });
  events.addEventListener("up", () => { for (const c of cards.values()) c.player.reconnectSoon(); });
  events.start();
  const poll = async () => { if (await loadStatus()) setTimeout(poll, STATUS_MS); };
  setTimeout(poll, STATUS_MS);
  Object.assign(window, { vw: { cards, events } });
}

main();
