// @ts-check
/** Small shared pieces of the pages: what each feed state means to a person. */
import { formatOpening } from "./clock.js";

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
 */

/**
 * One calm sentence for a feed state, or "" when live.
 * @param {Partial<SiteSummary>} s
 */
export function stateMessage(s) {
  const title = s.title ?? s.site ?? "";
  switch (s.state) {
    case "live": return "";
    case "offline": return `The camera in ${title} is offline. Back soon.`;
    case "paused": return `The window to ${title} is paused for a moment.`;
    case "closed":
      return s.next_opening && s.timezone
        ? `${title} is closed now. Opens ${formatOpening(s.next_opening, s.timezone)} local time.`
        : `${title} is closed now.`;
    case "stopping": return "The window is restarting for maintenance. Back in a moment.";
    default: return "";
  }
}

/** @param {string[]} hours */
export function hoursText(hours) {
  return hours && hours.length ? hours.join(", ") : "always open";
}

/** Messages for a refused token, in words a visitor understands. @param {string} reason */
export function tokenMessage(reason) {
  if (/expired/i.test(reason)) return "This link has expired. Please ask for a new one.";
  if (/revoked/i.test(reason)) return "This link has been withdrawn. Please ask for a new one.";
  if (/may not/i.test(reason)) return "This link does not open this window.";
  return "This link is not valid. Please check it or ask for a new one.";
}

/** @param {string} id @returns {HTMLElement} */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}
