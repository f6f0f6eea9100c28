// Calls to /api/v1 with the signed-in key in the X-API-Key header (never in a URL or a cookie).

const KEY = "hunter.apiKey";
const BASE = "/api/v1";

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  signIn(key) {
    sessionStorage.setItem(KEY, key);
  },
  signOut() {
    sessionStorage.removeItem(KEY);
  },
};

export class ApiError extends Error {
  constructor(status, title, detail, { errors = [], retryAfter = null } = {}) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
    this.retryAfter = retryAfter;
  }

  /** The scope a 403 names ("this operation needs a key with the 'scan' scope"). */
  get scope() {
    const found = /'(\w+)' scope/.exec(this.detail || "");
    return found ? found[1] : null;
  }
}

/** A query string from an object; empty values are left out, arrays become comma lists. */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    search.set(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function problemOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  return new ApiError(response.status, body.title || response.statusText, body.detail || "", {
    errors: Array.isArray(body.errors) ? body.errors : [],
    retryAfter: response.headers.get("Retry-After"),
  });
}

/**
 * fetch() below /api/v1. Returns parsed JSON, or the Response when `raw` is set.
 * Throws ApiError; a 401 also tells the app to return to the sign-in form.
 */
export async function api(path, { method = "GET", json, body, headers = {}, raw = false, key } = {}) {
  const sent = { Accept: "application/json", ...headers };
  const apiKey = key ?? session.key;
  if (apiKey) sent["X-API-Key"] = apiKey;
  let payload = body;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(BASE + path, { method, headers: sent, body: payload, credentials: "omit", cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", "");
  }
  if (!response.ok) {
    const error = await problemOf(response);
    if (response.status === 401 && key === undefined) {
      window.dispatchEvent(new CustomEvent("hunter:unauthorized"));
    }
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

/** Fetch a file with the key header and hand it to the browser as a download (a POST with `json` for a body). */
export async function download(path, fallbackName, { method = "GET", json } = {}) {
  const response = await api(path, { raw: true, method, json, headers: { Accept: "*/*" } });
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = named ? decodeURIComponent(named[1]) : fallbackName;
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}
