// Turkish by default, English on request. Labels here; numbers and dates through Intl for the chosen language.

import { TEXTS } from "./texts.js";

const LANG_KEY = "hunter.lang"; // a preference, not a secret: localStorage is fine
const LOCALES = { tr: "tr-TR", en: "en-GB" };
const missing = new Set();

let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "tr";

export function getLang() {
  return lang;
}

export function setLang(next) {
  lang = next === "en" ? "en" : "tr";
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang;
}

/** The label for `key` with {name} placeholders filled; `fallback` for open-ended values (provider names). */
export function t(key, vars = {}, fallback) {
  let text = TEXTS[lang][key];
  if (text === undefined) {
    if (fallback !== undefined) return String(fallback);
    missing.add(`${lang}:${key}`);
    window.hunterMissingTexts = [...missing];
    text = key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] === undefined ? `{${name}}` : String(vars[name])));
}

export function num(value, digits) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  const options = digits === undefined ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat(LOCALES[lang], options).format(Number(value));
}

export function percent(share) {
  return new Intl.NumberFormat(LOCALES[lang], { style: "percent", maximumFractionDigits: 0 }).format(share || 0);
}

export function money(value, currency) {
  try {
    return new Intl.NumberFormat(LOCALES[lang], { style: "currency", currency: currency || "USD", maximumFractionDigits: 0 }).format(value);
  } catch {
    return `${num(value)} ${currency || ""}`.trim();
  }
}

export function dateTime(iso, withTime = true) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  const options = withTime ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "medium" };
  return new Intl.DateTimeFormat(LOCALES[lang], options).format(date);
}

/** "2 dk 5 sn" / "2 min 5 s" for an ETA or an age. */
export function duration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  const parts = [];
  if (hours) parts.push(t("time.hours", { n: num(hours) }));
  if (minutes) parts.push(t("time.minutes", { n: num(minutes) }));
  if (!hours && (secs || !minutes)) parts.push(t("time.seconds", { n: num(secs) }));
  return parts.join(" ");
}

// Why an input is not a domain, as the server says it (shared/core/domains.py), in Turkish. Unknown texts pass unchanged.
const INPUT_ERRORS_TR = [
  [/^not a valid URL \((.*)\)$/, "geçerli bir URL değil ($1)"],
  [/^not text$/, "metin değil"],
  [/^empty or placeholder value, not a domain$/, "boş veya yer tutucu bir değer, alan adı değil"],
  [/^contains spaces; a domain has none$/, "boşluk içeriyor; alan adında boşluk olmaz"],
  [/^is an IP address, not a domain$/, "bir IP adresi, alan adı değil"],
  [/^no host name found$/, "sunucu adı bulunamadı"],
  [/^not a valid host name \(letters, digits and hyphens only\)$/, "geçerli bir sunucu adı değil (yalnızca harf, rakam ve tire)"],
  [/^not a valid host name \((.*)\)$/, "geçerli bir sunucu adı değil ($1)"],
  [/^a single label is not a public domain$/, "tek parçalı bir ad, alan adı değil"],
  [/^unknown top-level domain '(.*)'$/, "bilinmeyen üst düzey alan adı '$1'"],
  [/^'(.*)' is a public suffix, not a company domain$/, "'$1' ortak bir uzantı, şirket alan adı değil"],
];

export function inputError(text) {
  if (!text || lang !== "tr") return text;
  for (const [pattern, turkish] of INPUT_ERRORS_TR) if (pattern.test(text)) return text.replace(pattern, turkish);
  return text;
}
