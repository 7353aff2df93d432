// @ts-check
/** /: what the links look like, in the reader's language (with a switch). */
import { ensureCjkFont, languageSwitch, loadLanguage, readerLanguage } from "./i18n.js";

/** @param {"de" | "ja" | "en"} lang */
async function speak(lang) {
  (await loadLanguage(lang)).apply();
}

async function main() {
  await ensureCjkFont();
  const lang = readerLanguage();
  await speak(lang);
  languageSwitch(/** @type {HTMLSelectElement} */ (document.getElementById("lang")), lang, speak);
}

main();
