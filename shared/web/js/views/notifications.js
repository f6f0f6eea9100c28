// Notifications (admin, #/notifications): change-alert subscriptions — create (a webhook's signing
// secret is shown once, with a copy button), send a test, delete — and the delivery log, failures first.

import { api } from "../api.js";
import { clear, h } from "../dom.js";
import { dateTime, num, t } from "../i18n.js";
import { dataTable, emptyState, errorBox, errorText, loading, onCreateSubmit, setTitle, shownOnceBox, toast } from "../ui.js";

const KINDS = ["webhook", "teams", "slack", "email"];
const EVENTS = ["lead.provider_changed", "lead.gateway_changed", "lead.dmarc_changed", "lead.mx_changed", "lead.priority_changed", "lead.hot", "d365.push_failed", "referral.received"];

function secretBox(secret) {
  return shownOnceBox("new-secret", t("notify.secret"), secret);
}

function subscriptionForm(onCreated) {
  const form = h(
    "form",
    { class: "key-form", "aria-labelledby": "notify-new" },
    h("h3", { id: "notify-new", class: "full", text: t("notify.new") }),
    h(
      "div",
      { class: "field" },
      h("label", { for: "notify-kind", text: t("notify.kind") }),
      h("select", { id: "notify-kind", name: "kind" }, KINDS.map((kind) => h("option", { value: kind, text: t(`notify.kind.${kind}`) }))),
    ),
    h("div", { class: "field" }, h("label", { for: "notify-target", text: t("notify.target") }), h("input", { id: "notify-target", name: "target", required: true, maxlength: 2000, autocomplete: "off", "aria-describedby": "notify-target-help" })),
    h("p", { id: "notify-target-help", class: "small full", text: t("notify.targetHelp") }),
    h(
      "fieldset",
      { class: "field full" },
      h("legend", { text: t("notify.events") }),
      EVENTS.map((type) => h("label", { class: "radio" }, h("input", { type: "checkbox", name: "events", value: type }), t(`notify.event.${type}`))),
    ),
    h("div", { class: "field" }, h("label", { for: "notify-lang", text: t("notify.lang") }), h("select", { id: "notify-lang", name: "lang" }, h("option", { value: "tr", text: "Türkçe" }), h("option", { value: "en", text: "English" }))),
    h(
      "div",
      { class: "field" },
      h("label", { for: "notify-digest", text: t("notify.digest") }),
      h("select", { id: "notify-digest", name: "digest" }, ["off", "daily", "weekly"].map((value) => h("option", { value, text: t(`notify.digest.${value}`) }))),
    ),
    h("div", { class: "field field-actions" }, h("button", { type: "submit", class: "btn btn-primary", text: t("notify.create") })),
  );
  return onCreateSubmit(
    form,
    (data) => {
      const kind = String(data.get("kind"));
      const target = String(data.get("target") || "").trim();
      const body = { kind, events: data.getAll("events").map(String), lang: String(data.get("lang")) };
      if (kind === "email") {
        body.to = target.split(/[\s,;]+/).filter(Boolean);
        body.digest = String(data.get("digest"));
      } else {
        body.url = target;
      }
      return body;
    },
    (body) => api("/notifications/subscriptions", { method: "POST", json: body }),
    onCreated,
  );
}

async function deliveries(box, ctx) {
  clear(box).append(h("h2", { id: "notify-log", text: t("notify.log") }), loading());
  let data;
  try {
    data = await api("/notifications/deliveries?limit=100");
  } catch (error) {
    if (ctx.isCurrent()) clear(box).append(h("h2", { id: "notify-log", text: t("notify.log") }), errorBox(error));
    return;
  }
  if (!ctx.isCurrent()) return;
  clear(box).append(
    h("h2", { id: "notify-log", text: t("notify.log") }),
    data.items.length
      ? dataTable({
          className: "deliveries-table",
          headers: [t("notify.subscription"), t("notify.status"), t("notify.attempts"), t("notify.answer"), t("notify.updated")],
          rows: data.items.map((item) =>
            h(
              "tr",
              {},
              h("th", { scope: "row", class: "mono", text: item.subscription_id }),
              h("td", {}, h("span", { class: `pill ${item.status === "delivered" ? "d365-synced" : item.status === "queued" ? "d365-queued" : "d365-failed"}`, text: t(`notify.state.${item.status}`, {}, item.status) })),
              h("td", { class: "num", text: num(item.attempts) }),
              h("td", { text: item.last_error || (item.last_status_code ? String(item.last_status_code) : "—") }),
              h("td", { class: "nowrap", text: dateTime(item.updated_at) }),
            ),
          ),
        })
      : h("p", { class: "muted", text: t("notify.noDeliveries") }),
  );
}

async function subscriptions(box, ctx, created) {
  clear(box).append(h("h2", { id: "notify-subs", text: t("notify.subscriptions") }), loading());
  let data;
  try {
    data = await api("/notifications/subscriptions");
  } catch (error) {
    if (ctx.isCurrent()) clear(box).append(h("h2", { id: "notify-subs", text: t("notify.subscriptions") }), errorBox(error));
    return;
  }
  if (!ctx.isCurrent()) return;
  const reload = (made) => subscriptions(box, ctx, made);
  const test = async (item) => {
    try {
      const result = await api(`/notifications/subscriptions/${encodeURIComponent(item.id)}/test`, { method: "POST" });
      toast(result.delivered ? t("notify.testOk", { status: result.status }) : t("notify.testFailed", { error: result.error || result.status }), result.delivered ? "success" : "error");
    } catch (error) {
      toast(errorText(error), "error");
    }
  };
  const remove = async (item) => {
    if (!window.confirm(t("notify.confirmDelete"))) return;
    try {
      await api(`/notifications/subscriptions/${encodeURIComponent(item.id)}`, { method: "DELETE", raw: true });
      toast(t("notify.deleted"), "success");
      reload();
    } catch (error) {
      toast(errorText(error), "error");
    }
  };
  const target = (item) => (item.kind === "email" ? item.to.join(", ") : item.url);
  clear(box).append(
    h("h2", { id: "notify-subs", text: t("notify.subscriptions") }),
    h("p", { class: "muted", text: t("notify.intro") }),
    created && created.secret ? secretBox(created.secret) : null,
    data.items.length
      ? dataTable({
          className: "subscriptions-table",
          headers: [t("notify.kind"), t("notify.target"), t("notify.events"), t("notify.digest"), t("keys.status"), ""],
          rows: data.items.map((item) =>
            h(
              "tr",
              { "data-subscription": item.id },
              h("th", { scope: "row", text: t(`notify.kind.${item.kind}`, {}, item.kind) }),
              h("td", { class: "mono", text: target(item) }),
              h("td", { text: item.events.length ? item.events.map((e) => t(`notify.event.${e}`, {}, e)).join(", ") : t("notify.allEvents") }),
              h("td", { text: t(`notify.digest.${item.digest}`, {}, item.digest) }),
              h("td", {}, item.enabled ? h("span", { class: "pill d365-synced", text: t("keys.active") }) : h("span", { class: "pill d365-failed", text: item.disabled_reason || t("notify.disabled") })),
              h(
                "td",
                { class: "nowrap" },
                h("button", { type: "button", class: "btn btn-small", text: t("notify.test"), "aria-label": t("notify.testOne", { target: target(item) }), onclick: () => test(item) }),
                " ",
                h("button", { type: "button", class: "btn btn-small", text: t("notify.delete"), "aria-label": t("notify.deleteOne", { target: target(item) }), onclick: () => remove(item) }),
              ),
            ),
          ),
        })
      : emptyState(t("notify.none")),
    subscriptionForm((made) => reload(made)),
  );
  if (created && created.secret) box.querySelector("#new-secret").focus();
}

export async function render(root, ctx) {
  setTitle(t("nav.notifications"));
  root.append(h("h1", { text: t("nav.notifications") }));
  const subs = h("section", { class: "card", "aria-labelledby": "notify-subs" });
  const log = h("section", { class: "card", "aria-labelledby": "notify-log" });
  root.append(subs, log);
  await Promise.all([subscriptions(subs, ctx), deliveries(log, ctx)]);
}
