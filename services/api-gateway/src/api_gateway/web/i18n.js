// The page's language: Russian or English. Every text the operator reads comes from
// t(key, params) with the strings of i18n/ru.json or i18n/en.json (next to this module, so
// the CRM widgets that import it from the gateway get them too). The language is the one
// chosen in the page (kept in localStorage), else the first of the browser's preferred
// languages that we have, else English. Dates, times, durations and amounts are formatted
// with Intl in that language (ru: 02.12.2026, 14:05).

export const LANGUAGES = ["ru", "en"];
const STORE = "callbridge.lang";
let lang = "en";
let messages = {};

function stored() {
  try {
    return window.localStorage.getItem(STORE) || "";
  } catch {
    return ""; // storage refused (a sandboxed CRM frame): the browser's preference decides
  }
}

/** The language to use: the operator's choice, else the browser's first we know. */
export function preferredLanguage() {
  const chosen = stored();
  if (LANGUAGES.includes(chosen)) return chosen;
  for (const tag of navigator.languages || [navigator.language || ""]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

/** Load a language's strings (remember: it was chosen in the page). */
export async function setLanguage(next, remember = false) {
  const wanted = LANGUAGES.includes(next) ? next : "en";
  const answer = await fetch(new URL(`./i18n/${wanted}.json`, import.meta.url));
  if (!answer.ok) throw new Error(`i18n/${wanted}.json: HTTP ${answer.status}`);
  messages = await answer.json();
  lang = wanted;
  if (remember) {
    try {
      window.localStorage.setItem(STORE, wanted);
    } catch {
      // not remembered: still used for this page
    }
  }
  return lang;
}

export function language() {
  return lang;
}

/** The text for key in the page's language, {name} replaced by params.name. A missing key
 *  shows as the key itself (the test suite fails on any). Plural keys are objects by
 *  Intl.PluralRules category ("one", "few", "many", "other") chosen by params.count. */
export function t(key, params = {}) {
  let text = messages[key];
  if (text === undefined) return key;
  if (typeof text === "object") {
    const category = new Intl.PluralRules(lang).select(Number(params.count) || 0);
    text = text[category] ?? text.other;
  }
  return String(text).replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A moment (Date, or ms since the epoch) as date and time: 02.12.2026, 14:05 in Russian. */
export function formatDateTime(moment) {
  return new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" })
    .format(moment instanceof Date ? moment : new Date(moment));
}

/** A duration in seconds as minutes:seconds (h:mm:ss over an hour), digits in the locale. */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  const two = new Intl.NumberFormat(lang, { minimumIntegerDigits: 2, useGrouping: false });
  const one = new Intl.NumberFormat(lang, { useGrouping: false });
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? `${one.format(h)}:${two.format(m)}:${two.format(s)}` : `${one.format(m)}:${two.format(s)}`;
}

/** How long ago (or until): "5 минут назад" / "5 minutes ago". */
export function formatRelative(moment, now = Date.now()) {
  const seconds = Math.round(((moment instanceof Date ? moment.getTime() : moment) - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return rtf.format(Math.round(seconds / 86400), "day");
}

/** An amount (a deal's) with the locale's grouping: 1 500 000 in Russian. */
export function formatAmount(value) {
  return new Intl.NumberFormat(lang).format(value);
}

/** A call's direction and result in words ("inbound" → "входящий"); unknown ones as sent. */
export function directionName(direction) {
  const names = { inbound: t("direction.inbound"), outbound: t("direction.outbound"), internal: t("direction.internal") };
  return names[direction] || direction || "";
}

export function resultName(result) {
  const names = { answered: t("result.answered"), missed: t("result.missed"), busy: t("result.busy"),
    failed: t("result.failed"), abandoned: t("result.abandoned") };
  return names[result] || result || "";
}

/** One past call in a line: "02.12.2026, 14:05 · входящий · отвечен". */
export function callLine(moment, direction, result) {
  return [formatDateTime(moment), directionName(direction), resultName(result)].join(" · ");
}

/**
 * Translate the static page: data-i18n="key" sets an element's text; data-i18n-attr=
 * "placeholder:key;aria-label:key;title:key" sets attributes. Also <html lang>.
 */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [name, key] = pair.split(":").map((s) => s.trim());
      if (name && key) node.setAttribute(name, t(key));
    }
  }
  if (root === document) document.documentElement.lang = lang;
}

await setLanguage(preferredLanguage()).catch(() => setLanguage("en")).catch(() => null);
