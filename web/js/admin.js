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
import { LivePlayer } from "./player.js";
import { FragmentToken } from "./token.js";
import { $, hoursText, stateMessage, tokenMessage } from "./ui.js";

const token = new FragmentToken();
const STATUS_MS = 2000;

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
  if (err instanceof HttpError && err.status === 401) fatal(tokenMessage(err.reason));
  else alertOnce(err instanceof HttpError ? err.reason : String(err));
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
  card.setAttribute("aria-label", s.title);
  q(card, ".title").textContent = s.title;
  const video = q(card, "video");
  video.setAttribute("aria-label", `Live feed of ${s.title}, as viewers see it`);
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
  select.setAttribute("aria-label", `Privacy mode of ${s.title}`);
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
  const entry = { card, player, clock: new SiteClock(q(card, ".clock"), s.timezone).start(),
                  summary: s };
  cards.set(site, entry);
  return entry;
}

/** @param {string} site @param {any} s partial or full status */
function update(site, s) {
  const entry = cards.get(site) ?? makeCard(site, s);
  const sum = entry.summary = { ...entry.summary, ...s };
  const { card } = entry;
  card.dataset.state = sum.state;
  const badge = q(card, ".state");
  badge.textContent = sum.state;
  badge.dataset.state = sum.state;
  badge.title = stateMessage(sum);
  const curtain = q(card, ".curtain");
  curtain.setAttribute("aria-pressed", String(!!sum.paused));
  curtain.textContent = sum.paused ? `Lift curtain · ${sum.title}` : `Curtain down · ${sum.title}`;
  const select = q(card, ".mode");
  if (select.options.length !== modes.length) {
    select.replaceChildren(...modes.map((m) => Object.assign(document.createElement("option"),
                                                             { value: m, textContent: m })));
  }
  if (document.activeElement !== select) select.value = sum.mode;
  if (s.feed) renderHealth(card, sum);
}

/** A definition list of [term, description] rows. @param {HTMLElement} dl @param {string[][]} rows */
function fill(dl, rows) {
  dl.replaceChildren(...rows.flatMap(([k, v]) => [
    Object.assign(document.createElement("dt"), { textContent: k }),
    Object.assign(document.createElement("dd"), { textContent: v }),
  ]));
}

/** @param {HTMLElement} card @param {any} s */
function renderHealth(card, s) {
  const p = s.feed.privacy || {};
  const rows = [
    ["Camera", s.camera ? `connected${s.resolution ? ` · ${s.resolution.join("×")}` : ""}` : "not connected"],
    ["Frames", `in ${s.feed.fps_in} fps · out ${s.feed.fps_out} fps`],
    ["Bitrate", s.bitrate_kbps != null ? `${s.bitrate_kbps} kbit/s` : "…"],
    ["Privacy", `${s.mode} · faces ${p.faces ?? 0} · blurred ${Math.round((p.blurred_share ?? 0) * 100)}% · p95 ${p.latency_ms_p95 ?? "–"} ms`],
    ["Whole-frame blurs", Object.entries(p.whole_frame_blurs || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "none"],
    ["Viewers", String(s.viewers)],
    ["Hours", `${hoursText(s.hours)} · ${s.open ? "open now" : "closed now"}`],
  ];
  fill(q(card, ".health"), rows);
  renderLink(card, s);
  const sessions = [...(s.camera_session ? [s.camera_session] : []), ...s.viewer_sessions];
  q(card, ".sessions").replaceChildren(...sessions.map((x) => {
    const tr = document.createElement("tr");
    tr.dataset.session = x.id;
    const cells = [x.kind === "publisher" ? "camera" : x.role, `${x.subject} (${x.jti})`, x.remote,
                   x.state, x.bytes_sent != null ? kb(x.bytes_sent) : "–",
                   x.stats?.rtt_ms != null ? `${x.stats.rtt_ms} ms` : "–"];
    tr.append(...cells.map((c) => Object.assign(document.createElement("td"), { textContent: c })));
    const td = document.createElement("td");
    const kick = Object.assign(document.createElement("button"), { type: "button", textContent: "Kick" });
    kick.setAttribute("aria-label", `Disconnect ${x.kind} ${x.subject}`);
    kick.addEventListener("click", async () => {
      try { await api("DELETE", `/api/sessions/${encodeURIComponent(x.id)}`); tr.remove(); loadAudit(); }
      catch (e) { report(e); }
    });
    td.append(kick);
    tr.append(td);
    return tr;
  }));
}

/** @param {number | null | undefined} t Unix s */
function since(t) {
  return t ? new Date(t * 1000).toLocaleTimeString(undefined, { hourCycle: "h23" }) : "?";
}

/** The link between two relays: this site's pushes, a feed arriving from a partner, the
 * audit of that feed and its alert. @param {HTMLElement} card @param {any} s */
function renderLink(card, s) {
  /** @type {string[][]} */
  const rows = [];
  const r = s.relay_source;
  if (r) {
    const how = r.mode === "forward" ? "forwarded as it arrives" : `processed here (${r.mode})`;
    rows.push(["From partner relay", `${r.subject} · ${how} · ${r.fps_in} fps · since ${since(r.since)}`]);
    const a = s.audit || {};
    rows.push(["Audit", a.alert ? "ALERT" : `clean · ${a.samples ?? 0} samples` +
               (a.last_ms != null ? ` · ${a.last_ms} ms` : "")]);
  }
  for (const p of s.pushes || []) {
    const figures = p.state === "connected"
      ? ` · ${p.bitrate_kbps ?? "…"} kbit/s · RTT ${p.rtt_ms ?? "–"} ms · lost ${p.packets_lost ?? 0}`
      : (p.last_error ? ` · ${p.last_error}` : "");
    rows.push([`Push to ${p.url}`, `${p.state} since ${since(p.since)}${figures} · ` +
               `${p.reconnects} reconnects`]);
  }
  const link = q(card, ".link");
  link.dataset.pushes = String((s.pushes || []).length);
  fill(link, rows);
  const alertBox = q(card, ".audit-alert");
  const alert = s.audit?.alert;
  card.dataset.audit = alert ? "alert" : "clean";
  alertBox.classList.toggle("hidden", !alert);
  if (alert) {
    q(alertBox, ".audit-text").textContent =
      `The partner relay's feed showed ${alert.faces} face(s) that should have been blurred ` +
      `(at ${since(alert.at)}, token ${alert.subject}). This relay blurs the feed itself ` +
      "until you clear the alert.";
  }
}

async function loadStatus() {
  try {
    const st = await api("GET", "/api/status");
    modes = st.modes;
    $("conn").textContent = "connected";
    $("conn").dataset.state = "live";
    $("uptime").textContent = `relay up ${Math.round(st.uptime_s / 60)} min`;
    for (const [site, s] of Object.entries(st.sites)) update(site, s);
    if (st.refused) renderRefused(st.refused);
  } catch (e) {
    if (e instanceof HttpError) { report(e); return e.status !== 401 && e.status !== 403; }
    $("conn").textContent = "relay unreachable";
    $("conn").dataset.state = "offline";
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
      const tr = document.createElement("tr");
      tr.dataset.action = e.action;
      const detail = Object.entries(e.detail).filter(([k]) => k !== "role")
        .map(([k, v]) => `${k}=${v}`).join(" ");
      const when = new Date(e.at * 1000).toLocaleString(undefined, { hourCycle: "h23" });
      tr.append(...[when, e.actor, e.action, e.target, detail, e.remote]
        .map((c) => Object.assign(document.createElement("td"), { textContent: c })));
      return tr;
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
      $("mint-what").textContent = `${body.role}${body.site ? " · " + body.site : ""}`;
      $("mint-jti").textContent = body.jti;
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
    try { await navigator.clipboard.writeText(text); $("copied").textContent = "Copied."; }
    catch {
      const range = document.createRange();
      range.selectNodeContents($("mint-link"));
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
      $("copied").textContent = "Selected: press Ctrl+C to copy.";
    }
  });
  const revoke = /** @type {HTMLFormElement} */ ($("revoke"));
  revoke.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(revoke);
    try {
      const r = await api("DELETE", `/api/tokens/${encodeURIComponent(String(f.get("jti")))}`,
                          { reason: f.get("reason") || "" });
      $("revoke-result").textContent = `Revoked; ${r.sessions_ended} session(s) ended.`;
      revoke.reset();
      loadAudit();
    } catch (e) { report(e); }
  });
  $("audit-refresh").addEventListener("click", loadAudit);
}

async function main() {
  if (!token.wellFormed) return fatal(tokenMessage("malformed"));
  if (token.expired) return fatal(tokenMessage("expired"));
  $("who").textContent = `signed in as ${token.claims?.sub ?? "?"}`;
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
