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

// Why an input is not a domain, by the code the server sends (DomainErrorCode in shared/core/domains.py), in
// both languages; {name} placeholders take the error's params. A code missing here shows the server's English text.
const INPUT_ERRORS = {
  tr: {
    invalid_url: "geçerli bir URL değil ({detail})",
    not_text: "metin değil",
    empty: "boş veya yer tutucu bir değer, alan adı değil",
    contains_spaces: "boşluk içeriyor; alan adında boşluk olmaz",
    ip_address: "bir IP adresi, alan adı değil",
    no_host: "sunucu adı bulunamadı",
    invalid_host_name: "geçerli bir sunucu adı değil ({detail})",
    invalid_characters: "geçerli bir sunucu adı değil (yalnızca harf, rakam ve tire)",
    single_label: "tek parçalı bir ad, alan adı değil",
    unknown_tld: "bilinmeyen üst düzey alan adı '.{tld}'",
    public_suffix: "'{suffix}' ortak bir uzantı, şirket alan adı değil",
  },
  en: {
    invalid_url: "not a valid URL ({detail})",
    not_text: "not text",
    empty: "empty or placeholder value, not a domain",
    contains_spaces: "contains spaces; a domain has none",
    ip_address: "is an IP address, not a domain",
    no_host: "no host name found",
    invalid_host_name: "not a valid host name ({detail})",
    invalid_characters: "not a valid host name (letters, digits and hyphens only)",
    single_label: "a single label is not a public domain",
    unknown_tld: "unknown top-level domain '.{tld}'",
    public_suffix: "'{suffix}' is a public suffix, not a company domain",
  },
};

/**
 * Why an input is not a domain, in the chosen language. `item` is what the server answered: a problem's
 * `errors` entry ({code, params, message}) or a bulk row ({code, params, error}); the English `message`/`error`
 * is shown when the code is missing or unknown (a scan failure, an older server). Empty when there is no error.
 */
export function inputError(item) {
  if (!item) return "";
  if (typeof item === "string") return item;
  const fallback = item.message ?? item.error ?? "";
  const table = INPUT_ERRORS[lang];
  const text = item.code && Object.hasOwn(table, item.code) ? table[item.code] : undefined;
  if (text === undefined) return fallback;
  const params = item.params || {};
  return text.replace(/\{(\w+)\}/g, (_, name) => (params[name] === undefined ? `{${name}}` : String(params[name])));
}

/** The input error a 422 problem carries (its first `errors` entry with a code), worded here; null if none. */
export function problemInputError(error) {
  const item = error && error.status === 422 ? (error.errors || []).find((e) => e && e.code) : undefined;
  return item ? inputError(item) : null;
}
