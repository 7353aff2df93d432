// @ts-check
/**
 * The pages' languages: German, Japanese and English, one file per language in /i18n/
 * (the same files the relay sets its slates from). `t(key, fields)` gives a message with its
 * {field}s filled in; `apply()` writes the messages named by `data-i18n*` attributes into the
 * page. Dates and times use Intl with the language's locale.
 *
 * Which language: `#lang=xx` in the link first (a kiosk can be told), then what the page
 * decides (a screen: its site's language; viewer and admin: the reader's stored choice), then
 * the browser's languages, then English.
 */

export const LANGUAGES = /** @type {const} */ (["de", "ja", "en"]);
/** Each language's name written in itself, for the switch. */
export const NAMES = { de: "Deutsch", ja: "日本語", en: "English" };
/** The locale whose conventions (dates, times, numbers) a language's readers expect. */
const LOCALES = { de: "de-DE", ja: "ja-JP", en: "en-GB" };
const STORE_KEY = "window.language";
/** Attributes naming a message, and the attribute it goes to. */
const ATTRIBUTES = [["data-i18n-label", "aria-label"], ["data-i18n-placeholder", "placeholder"],
                    ["data-i18n-title", "title"]];

/** @param {unknown} lang @returns {lang is "de" | "ja" | "en"} */
export function isLanguage(lang) {
  return typeof lang === "string" && /** @type {readonly string[]} */ (LANGUAGES).includes(lang);
}

/**
 * The first of `wanted` (BCP 47 tags such as "de-AT") that the pages speak, else "en".
 * @param {readonly string[]} wanted
 */
export function pickLanguage(wanted) {
  for (const tag of wanted) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (isLanguage(primary)) return primary;
  }
  return "en";
}

/** `#lang=xx` in the page's link, or null. */
export function linkLanguage() {
  const lang = new URLSearchParams(location.hash.slice(1)).get("lang");
  return isLanguage(lang) ? lang : null;
}

/** The reader's stored choice (viewer and admin pages), or null. */
export function storedLanguage() {
  try {
    const lang = localStorage.getItem(STORE_KEY);
    return isLanguage(lang) ? lang : null;
  } catch { return null; }
}

/** @param {string} lang */
export function storeLanguage(lang) {
  try { localStorage.setItem(STORE_KEY, lang); } catch { /* private mode: this page only */ }
}

/** The link's language, else the stored choice, else the browser's. */
export function readerLanguage() {
  return linkLanguage() ?? storedLanguage() ?? pickLanguage(navigator.languages ?? [navigator.language]);
}

export class Translator {
  /** @param {"de" | "ja" | "en"} language @param {Record<string, string>} messages */
  constructor(language, messages) {
    this.language = language;
    this.messages = messages;
    this.locale = LOCALES[language];
  }

  /**
   * The message `key` with `{field}`s filled in (the key itself if it is missing: a test
   * keeps every key in every language).
   * @param {string} key @param {Record<string, string | number>} [fields]
   */
  t(key, fields = {}) {
    const text = this.messages[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (m, name) => (name in fields ? String(fields[name]) : m));
  }

  /**
   * Write message `key` into `el`, with elements in place of some {field}s (so a message's
   * word order stays the language's own).
   * @param {HTMLElement} el @param {string} key @param {Record<string, Node | string>} parts
   */
  fill(el, key, parts) {
    const text = this.messages[key] ?? key;
    /** @type {(Node | string)[]} */
    const nodes = [];
    let at = 0;
    for (const m of text.matchAll(/\{(\w+)\}/g)) {
      nodes.push(text.slice(at, m.index));
      const part = parts[m[1]];
      nodes.push(part ?? m[0]);
      at = (m.index ?? 0) + m[0].length;
    }
    nodes.push(text.slice(at));
    el.replaceChildren(...nodes);
  }

  /**
   * Translate the page: `data-i18n` (text), `data-i18n-label` (aria-label),
   * `data-i18n-placeholder`, `data-i18n-title`; sets `<html lang>`.
   * @param {ParentNode} [root]
   */
  apply(root = document) {
    document.documentElement.lang = this.language;
    for (const el of root.querySelectorAll("[data-i18n]")) {
      el.textContent = this.t(/** @type {HTMLElement} */ (el).dataset.i18n ?? "");
    }
    for (const [selector, attr] of ATTRIBUTES) {
      for (const el of root.querySelectorAll(`[${selector}]`)) {
        el.setAttribute(attr, this.t(el.getAttribute(selector) ?? ""));
      }
    }
    const title = document.querySelector("title[data-i18n]");
    if (title) document.title = title.textContent ?? "";
  }
}

/**
 * Load a language's messages from the relay (same origin), retrying briefly.
 * @param {"de" | "ja" | "en"} language
 * @returns {Promise<Translator>}
 */
export async function loadLanguage(language) {
  for (let attempt = 1; ; attempt++) {
    try {
      const resp = await fetch(`/i18n/${language}.json`);
      if (!resp.ok) throw new Error(`/i18n/${language}.json: ${resp.status}`);
      return new Translator(language, await resp.json());
    } catch (e) {
      if (attempt >= 5) throw e;  // a relay restarting: a few tries, a second apart
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/**
 * A language switch: fill `select` with every language (each named in itself) and call
 * `onChange` with the reader's choice, which is remembered for next time.
 * @param {HTMLSelectElement} select @param {string} current
 * @param {(lang: "de" | "ja" | "en") => void} onChange
 */
export function languageSwitch(select, current, onChange) {
  select.replaceChildren(...LANGUAGES.map((lang) => {
    const opt = Object.assign(document.createElement("option"), { value: lang,
                                                                  textContent: NAMES[lang] });
    opt.lang = lang;
    return opt;
  }));
  select.value = current;
  select.addEventListener("change", () => {
    if (!isLanguage(select.value)) return;
    storeLanguage(select.value);
    onChange(select.value);
  });
}

/**
 * A site's name as the reader's language writes it.
 * @param {{site?: string, title?: string, titles?: Record<string, string>}} s
 * @param {string} language
 */
export function siteName(s, language) {
  return s.titles?.[language] ?? s.title ?? s.site ?? "";
}

/** Whether the fonts of this machine draw `ch`, or only the fallback box. @param {string} ch */
function drawsGlyph(ch) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 40;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  if (!g) return true;
  /** @param {string} text */
  const pixels = (text) => {
    g.clearRect(0, 0, 40, 40);
    g.font = '32px system-ui, "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", sans-serif';
    g.fillText(text, 2, 34);
    return g.getImageData(0, 0, 40, 40).data.join();
  };
  return pixels(ch) !== pixels("\u{10FFFD}");  // a code point no font has: the box
}

/**
 * Make sure Japanese can be drawn before any of it is written: a machine without a Japanese
 * font (a kiosk's minimal OS) gets the relay's (Noto Sans CJK JP, /fonts/cjk.otf) first.
 * Waiting matters: Chromium keeps text laid out before the font arrived in boxes.
 */
export async function ensureCjkFont() {
  if (!document.fonts || drawsGlyph("ボ")) return;
  await Promise.race([document.fonts.load('32px "Window CJK"', "ボ").catch(() => {}),
                      new Promise((resolve) => setTimeout(resolve, 8000))]);
}
