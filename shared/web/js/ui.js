// Pieces every screen uses: badges, loading and empty states, errors that say what to do, a toast.

import { h } from "./dom.js";
import { t, num } from "./i18n.js";

export function priorityBadge(priority) {
  if (!priority) return h("span", { class: "muted", text: "—" });
  const level = /^P[1-6]$/.test(priority) ? priority.toLowerCase() : "none";
  return h("span", { class: `badge prio-${level}`, title: t(`priority.${priority}`), text: priority });
}

export function d365Badge(status) {
  const known = ["not_synced", "queued", "synced", "failed"].includes(status) ? status : "not_synced";
  return h("span", { class: `pill d365-${known}`, text: t(`d365.${known}`) });
}

export function loading(label) {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), label || t("common.loading"));
}

/** What went wrong and what to do about it; never raw JSON or a stack trace. */
export function errorText(error) {
  const status = error && typeof error.status === "number" ? error.status : -1;
  switch (status) {
    case 0:
      return t("error.network");
    case 401:
      return t("error.unauthorized");
    case 403:
      return t("error.forbidden", { scope: error.scope ? t(`scope.${error.scope}`) : "?" });
    case 404:
      return t("error.notFound");
    case 409:
      return t("error.conflict", { detail: error.detail || error.title || "" });
    case 413:
      return t("error.tooLarge");
    case 422: {
      const fields = [...new Set((error.errors || []).map((e) => e.field))].join(", ");
      return t("error.invalid", { fields: fields || "—" });
    }
    case 429:
      return t("error.rateLimited", { seconds: num(Number(error.retryAfter) || 60) });
    default:
      if (status >= 500) return t("error.server");
      if (status >= 400) return t("error.request", { detail: error.detail || error.title || status });
      return t("error.unexpected");
  }
}

export function errorBox(error, { retry } = {}) {
  return h(
    "div",
    { class: "alert alert-error", role: "alert" },
    h("p", { text: errorText(error) }),
    retry ? h("button", { type: "button", class: "btn", onclick: retry, text: t("common.retry") }) : null,
  );
}

export function emptyState(title, ...actions) {
  return h("div", { class: "empty" }, h("p", { class: "empty-title", text: title }), actions.length ? h("p", {}, ...actions) : null);
}

let toastTimer = null;
export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  box.className = `toast toast-${kind} toast-show`;
  box.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.className = "toast";
    box.textContent = "";
  }, 4000);
}

export function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), "Hunter"].join(" · ");
}

/** A definition list from [label, value] pairs; empty values show a dash. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.map(([label, value]) => [
      h("dt", { text: label }),
      h("dd", {}, value === null || value === undefined || value === "" ? h("span", { class: "muted", text: "—" }) : value),
    ]),
  );
}

/**
 * A table in its scrolling wrapper: a caption for screen readers, the column headers (text, or a
 * node such as a sort button or a hidden label) and the body rows. Every table on every screen is
 * built here, so headers always carry scope="col".
 */
export function dataTable({ className = "", caption = null, headers, rows, wrapClass = "table-wrap" }) {
  const header = (c) => (c instanceof Node ? c : h("th", { scope: "col", text: c }));
  return h(
    "div",
    { class: wrapClass },
    h(
      "table",
      { class: `table ${className}`.trim() },
      caption ? h("caption", { class: "sr-only", text: caption }) : null,
      h("thead", {}, h("tr", {}, headers.map(header))),
      h("tbody", {}, rows),
    ),
  );
}

/** A labelled control of a filter form; ids are `${idPrefix}${name}` (each screen has its prefix). */
function filterField(idPrefix, name, label, control) {
  return h("div", { class: `field field-${name}` }, h("label", { for: `${idPrefix}${name}`, text: label }), control);
}

/** A filter's select: "all" first, then `values`, each described for the reader. */
export function filterSelect(idPrefix, name, label, values, current, describe = (v) => v) {
  return filterField(
    idPrefix,
    name,
    label,
    h(
      "select",
      { id: `${idPrefix}${name}`, name },
      h("option", { value: "", text: t("common.all") }),
      values.map((v) => h("option", { value: v, selected: v === current, text: describe(v) })),
    ),
  );
}

/** A filter's input (`attrs`: type, limits, placeholder), filled with the current value. */
export function filterInput(idPrefix, name, label, attrs, current) {
  return filterField(idPrefix, name, label, h("input", { id: `${idPrefix}${name}`, name, value: current || "", ...attrs }));
}

/** The Apply and Clear buttons that end every filter form. */
export function filterActions() {
  return h(
    "div",
    { class: "field field-actions" },
    h("button", { type: "submit", class: "btn btn-primary", text: t("leads.apply") }),
    h("button", { type: "reset", class: "btn", text: t("leads.clear") }),
  );
}

/** The non-empty, trimmed values of `names` in a filter form, for the URL query (a bookmarkable view). */
export function formFilters(form, names) {
  const data = new FormData(form);
  const out = {};
  for (const name of names) {
    const value = String(data.get(name) || "").trim();
    if (value) out[name] = value;
  }
  return out;
}

// A secret shown once (an API key, a webhook signing secret): a read-only field, a copy button and
// the "shown once" note, in a success box; `lead` is an optional first line.
export function shownOnceBox(id, label, value, lead = null) {
  const input = h("input", { id, class: "mono", readonly: true, value, "aria-describedby": `${id}-help` });
  return h(
    "div",
    { class: "alert alert-success new-key", role: "status" },
    lead ? h("p", { class: "strong", text: lead }) : null,
    h("label", { for: id, text: label }),
    h(
      "div",
      { class: "toolbar" },
      input,
      h("button", {
        type: "button",
        class: "btn",
        text: t("keys.copy"),
        onclick: async () => {
          try {
            await navigator.clipboard.writeText(value);
            toast(t("keys.copied"), "success");
          } catch {
            input.select();
            toast(t("lead.copyFailed"), "error");
          }
        },
      }),
    ),
    h("p", { id: `${id}-help`, class: "small", text: t("keys.shownOnce") }),
  );
}

// A form that creates something through the API: `build(data)` turns its FormData into the JSON body
// (or returns null after saying what is missing), `send(body)` calls the API; while it runs the
// submit button is disabled; on success the form is reset and `onDone(answer)` shows the result,
// on failure the problem's text is toasted.
export function onCreateSubmit(form, build, send, onDone) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = build(new FormData(form));
    if (body === null) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const created = await send(body);
      form.reset();
      onDone(created);
    } catch (error) {
      toast(errorText(error), "error");
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
