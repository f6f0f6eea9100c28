// Operations (admin): queue lengths, poison messages and redrive; API keys (create — shown once —, list, revoke).

import { api } from "../api.js";
import { clear, h } from "../dom.js";
import { dateTime, duration, num, t } from "../i18n.js";
import { dataTable, errorBox, errorText, loading, onCreateSubmit, setTitle, shownOnceBox, toast } from "../ui.js";

async function poison(box, name, reload) {
  clear(box).append(loading());
  let data;
  try {
    data = await api(`/admin/queues/${encodeURIComponent(name)}/poison`);
  } catch (error) {
    clear(box).append(errorBox(error));
    return;
  }
  clear(box).append(h("h2", { id: "ops-poison", text: t("ops.poisonOf", { name }) }));
  if (!data.items.length) {
    box.append(h("p", { class: "muted", text: t("ops.noPoison") }));
    return;
  }
  const checks = [];
  const redrive = async (body) => {
    try {
      const result = await api(`/admin/queues/${encodeURIComponent(name)}/redrive`, { method: "POST", json: body });
      toast(t("ops.moved", { count: num(result.moved.length) }), "success");
      reload();
    } catch (error) {
      toast(errorText(error), "error");
    }
  };
  box.append(
    dataTable({
      headers: [h("th", { scope: "col" }, h("span", { class: "sr-only", text: t("ops.select") })), t("ops.id"), t("ops.error"), t("ops.failedAt"), t("ops.body")],
      rows: data.items.map((m) => {
        const check = h("input", { type: "checkbox", value: m.id, "aria-label": t("ops.selectOne", { id: m.id }) });
        checks.push(check);
        return h("tr", {}, h("td", {}, check), h("td", { class: "mono", text: m.id }), h("td", { text: m.last_error || "—" }), h("td", { text: m.failed_at ? dateTime(m.failed_at) : "—" }), h("td", { class: "mono small", text: m.body.slice(0, 120) }));
      }),
    }),
    h(
      "div",
      { class: "toolbar" },
      h("button", {
        type: "button",
        class: "btn btn-primary",
        text: t("ops.redriveSelected"),
        onclick: () => {
          const ids = checks.filter((c) => c.checked).map((c) => c.value);
          if (!ids.length) toast(t("ops.selectFirst"), "error");
          else redrive({ ids });
        },
      }),
      h("button", { type: "button", class: "btn", text: t("ops.redriveAll"), onclick: () => redrive({ all: true }) }),
    ),
  );
}

function createdKeyBox(created) {
  return shownOnceBox("new-key", t("keys.theKey"), created.key, t("keys.created", { name: created.name }));
}

function keyForm(onCreated) {
  const role = (value, checked) =>
    h("label", { class: "radio" }, h("input", { type: "radio", name: "scope", value, checked }), t(`keys.role.${value}`));
  const form = h(
    "form",
    { class: "key-form", "aria-labelledby": "keys-new" },
    h("h3", { id: "keys-new", class: "full", text: t("keys.new") }),
    h("div", { class: "field" }, h("label", { for: "key-name", text: t("keys.name") }), h("input", { id: "key-name", name: "name", required: true, maxlength: 100, autocomplete: "off" })),
    h("fieldset", { class: "field" }, h("legend", { text: t("keys.scope") }), role("read", true), role("scan", false), role("admin", false)),
    h("div", { class: "field" }, h("label", { for: "key-limit", text: t("keys.limit") }), h("input", { id: "key-limit", name: "rate_limit_per_minute", type: "number", min: 1, max: 100000, value: 600, inputmode: "numeric" })),
    h("div", { class: "field field-actions" }, h("button", { type: "submit", class: "btn btn-primary", text: t("keys.create") })),
  );
  return onCreateSubmit(
    form,
    (data) => {
      const name = String(data.get("name") || "").trim();
      if (!name) {
        toast(t("keys.nameNeeded"), "error");
        return null;
      }
      return { name, scopes: [String(data.get("scope"))], rate_limit_per_minute: Number(data.get("rate_limit_per_minute")) || 600 };
    },
    (body) => api("/admin/keys", { method: "POST", json: body }),
    onCreated,
  );
}

async function keys(box, ctx) {
  clear(box).append(h("h2", { id: "ops-keys", text: t("keys.title") }), loading());
  let data;
  try {
    data = await api("/admin/keys");
  } catch (error) {
    if (ctx.isCurrent()) clear(box).append(h("h2", { id: "ops-keys", text: t("keys.title") }), errorBox(error));
    return;
  }
  if (!ctx.isCurrent()) return;
  const reload = (created) => {
    keys(box, ctx).then(() => {
      if (created) {
        box.querySelector(".key-form").before(createdKeyBox(created));
        box.querySelector("#new-key").focus();
      }
    });
  };
  const revoke = async (item) => {
    if (!window.confirm(t("keys.confirmRevoke", { name: item.name }))) return;
    try {
      await api(`/admin/keys/${encodeURIComponent(item.id)}/revoke`, { method: "POST" });
      toast(t("keys.revoked", { name: item.name }), "success");
      reload();
    } catch (error) {
      toast(errorText(error), "error");
    }
  };
  const scopes = (item) => item.scopes.map((s) => t(`keys.role.${s}`, {}, s)).join(", ");
  clear(box).append(
    h("h2", { id: "ops-keys", text: t("keys.title") }),
    h("p", { class: "muted", text: t("keys.intro") }),
    dataTable({
      className: "keys-table",
      headers: [t("keys.name"), t("ops.id"), t("keys.scope"), t("keys.limit"), t("keys.createdAt"), t("keys.status"), ""],
      rows: data.items.map((item) =>
        h(
          "tr",
          { "data-key": item.id },
          h("th", { scope: "row", text: item.name }),
          h("td", { class: "mono", text: item.id }),
          h("td", { text: scopes(item) }),
          h("td", { class: "num", text: num(item.rate_limit_per_minute) }),
          h("td", { class: "nowrap", text: dateTime(item.created_at) }),
          h("td", {}, item.revoked_at ? h("span", { class: "pill d365-failed", text: t("keys.revokedAt", { at: dateTime(item.revoked_at) }) }) : h("span", { class: "pill d365-synced", text: t("keys.active") })),
          h("td", {}, item.revoked_at || item.name === ctx.me.name ? null : h("button", { type: "button", class: "btn btn-small", text: t("keys.revoke"), "aria-label": t("keys.revokeOne", { name: item.name }), onclick: () => revoke(item) })),
        ),
      ),
    }),
    keyForm((created) => reload(created)),
  );
}

export async function render(root, ctx) {
  setTitle(t("nav.ops"));
  root.append(h("h1", { text: t("nav.ops") }));
  const body = h("div", {}, loading());
  const detail = h("section", { class: "card", "aria-labelledby": "ops-poison", hidden: true });
  const keyBox = h("section", { class: "card", "aria-labelledby": "ops-keys" });
  root.append(body, detail, keyBox);
  keys(keyBox, ctx);
  let data;
  try {
    data = await api("/admin/queues");
  } catch (error) {
    if (ctx.isCurrent()) clear(body).append(errorBox(error, { retry: () => ctx.navigate("ops") }));
    return;
  }
  if (!ctx.isCurrent()) return;
  const age = (s) => (s === null ? "—" : duration(s));
  clear(body).append(
    h("p", { class: "muted", text: t("ops.backend", { backend: data.backend }) }),
    dataTable({
      className: "queues-table",
      wrapClass: "table-wrap card",
      headers: [t("ops.queue"), t("ops.length"), t("ops.oldest"), t("ops.poison"), t("ops.poisonOldest"), ""],
      rows: data.queues.map((q) =>
        h(
          "tr",
          {},
          h("th", { scope: "row", class: "mono", text: q.name }),
          h("td", { class: "num", text: num(q.length) }),
          h("td", { text: age(q.oldest_age_seconds) }),
          h("td", { class: "num", text: num(q.poison_length) }),
          h("td", { text: age(q.poison_oldest_age_seconds) }),
          h("td", {}, h("button", { type: "button", class: "btn btn-small", text: t("ops.showPoison"), onclick: () => { detail.hidden = false; poison(detail, q.name, () => ctx.navigate("ops")); } })),
        ),
      ),
    }),
  );
}
