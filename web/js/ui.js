// @ts-check
/** Small shared pieces of the pages: what each feed state means to a person. */
import { formatOpening } from "./clock.js";
import { siteName } from "./i18n.js";

/** @typedef {import("./i18n.js").Translator} Translator */

/**
 * @typedef {object} SiteSummary
 * @property {string} site
 * @property {string} title
 * @property {string} timezone
 * @property {string|null} partner
 * @property {string[]} hours
 * @property {boolean} open
 * @property {string|null} next_opening
 * @property {string} state
 * @property {string} mode
 * @property {boolean} paused
 * @property {boolean} camera
 * @property {number} viewers
 * @property {string} language the site's own language
 * @property {Record<string, string>} titles the site's name in each language
 */

/**
 * One calm sentence for a feed state, or "" when live, in the reader's language.
 * @param {Partial<SiteSummary>} s
 * @param {Translator} tr
 */
export function stateMessage(s, tr) {
  const city = siteName(s, tr.language);
  switch (s.state) {
    case "live": return "";
    case "offline": return tr.t("msg.offline", { city });
    case "paused": return tr.t("msg.paused", { city });
    case "closed":
      return s.next_opening && s.timezone
        ? tr.t("msg.closed_opens", { city,
                                     when: formatOpening(s.next_opening, s.timezone, tr.locale) })
        : tr.t("msg.closed", { city });
    case "stopping": return tr.t("msg.stopping");
    default: return "";
  }
}

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/**
 * Opening hours in the reader's convention: "mon-fri 08:00-22:00" → "Mo–Fr 08:00–22:00",
 * "月–金 08:00–22:00" (weekday names from Intl; a rule it does not understand stays as it is).
 * @param {string[]} hours @param {Translator} tr
 */
export function hoursText(hours, tr) {
  if (!hours || !hours.length) return tr.t("hours.always");
  const names = new Intl.DateTimeFormat(tr.locale, { weekday: "short", timeZone: "UTC" });
  /** @param {string} day */
  const dayName = (day) => names.format(new Date(Date.UTC(2024, 0, 1 + DAYS.indexOf(day))));
  return hours.map((rule) => {
    const m = /^\s*([a-z]{3})(?:-([a-z]{3}))?\s+(\d{2}:\d{2})-(\d{2}:\d{2})\s*$/.exec(rule.toLowerCase());
    if (!m || !DAYS.includes(m[1]) || (m[2] && !DAYS.includes(m[2]))) return rule;
    const days = m[2] ? `${dayName(m[1])}–${dayName(m[2])}` : dayName(m[1]);
    return `${days} ${m[3]}–${m[4]}`;
  }).join(", ");
}

/**
 * Messages for a refused token, in words a visitor understands.
 * @param {string} reason the relay's one-line reason @param {Translator} tr
 */
export function tokenMessage(reason, tr) {
  if (/expired/i.test(reason)) return tr.t("token.expired");
  if (/revoked/i.test(reason)) return tr.t("token.revoked");
  if (/may not/i.test(reason)) return tr.t("token.forbidden");
  return tr.t("token.invalid");
}

/** @param {string} id @returns {HTMLElement} */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}
