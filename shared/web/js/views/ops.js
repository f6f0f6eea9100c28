// Operations (admin): queue lengths, poison messages and redrive.

import { api } from "../api.js";
import { clear, h } from "../dom.js";
import { dateTime, duration, num, t } from "../i18n.js";
import { errorBox, errorText, loading, setTitle, toast } from "../ui.js";

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
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, h("span", { class: "sr-only", text: t("ops.select") })), [t("ops.id"), t("ops.error"), t("ops.failedAt"), t("ops.body")].map((c) => h("th", { scope: "col", text: c })))),
        h(
          "tbody",
          {},
          data.items.map((m) => {
            const check = h("input", { type: "checkbox", value: m.id, "aria-label": t("ops.selectOne", { id: m.id }) });
            checks.push(check);
            return h("tr", {}, h("td", {}, check), h("td", { class: "mono", text: m.id }), h("td", { text: m.last_error || "—" }), h("td", { text: m.failed_at ? dateTime(m.failed_at) : "—" }), h("td", { class: "mono small", text: m.body.slice(0, 120) }));
          }),
        ),
      ),
    ),
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

export async function render(root, ctx) {
  setTitle(t("nav.ops"));
  root.append(h("h1", { text: t("nav.ops") }));
  const body = h("div", {}, loading());
  const detail = h("section", { class: "card", "aria-labelledby": "ops-poison", hidden: true });
  root.append(body, detail);
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
    h(
      "div",
      { class: "table-wrap card" },
      h(
        "table",
        { class: "table" },
        h("thead", {}, h("tr", {}, [t("ops.queue"), t("ops.length"), t("ops.oldest"), t("ops.poison"), t("ops.poisonOldest"), ""].map((c) => h("th", { scope: "col", text: c })))),
        h(
          "tbody",
          {},
          data.queues.map((q) =>
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
        ),
      ),
    ),
  );
}
