// Partner Center referrals (#/referrals?link_status=domain_missing): each with its lead, type, status and
// domain problem; filters live in the URL; admins can run the sync now.

import { api, queryString } from "../api.js";
import { clear, h } from "../dom.js";
import { dateTime, money, num, t } from "../i18n.js";
import { dataTable, emptyState, errorBox, errorText, facts, filterActions, filterInput, filterSelect, formFilters, loading, setTitle, toast } from "../ui.js";

const FILTERS = ["q", "link_status", "type", "status"];
const PAGE_SIZE = 50;
const LINK = ["linked", "domain_missing"];
const TYPES = ["Independent", "Shared"];
const STATUSES = ["New", "Active", "Closed"];
const OFF_TITLE = "Partner Center integration is off";

function currentFilters(query) {
  const out = {};
  for (const name of FILTERS) if (query.get(name)) out[name] = query.get(name);
  return out;
}

function filterForm(ctx, filters) {
  const form = h(
    "form",
    { class: "filters card", role: "search", "aria-label": t("refs.filters") },
    filterInput("r-", "q", t("leads.search"), { type: "search", placeholder: t("refs.searchHint"), maxlength: 200 }, filters.q),
    filterSelect("r-", "link_status", t("refs.link"), LINK, filters.link_status, (v) => t(`refs.link.${v}`)),
    filterSelect("r-", "type", t("ref.type"), TYPES, filters.type, (v) => t(`refs.type.${v}`, {}, v)),
    filterSelect("r-", "status", t("ref.status"), STATUSES, filters.status, (v) => t(`refs.status.${v}`, {}, v)),
    filterActions(),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate("referrals", formFilters(form, FILTERS));
  });
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    ctx.navigate("referrals", {});
  });
  return form;
}

function leadCell(item) {
  if (item.link_status === "domain_missing") {
    const seen = item.contact_domain ? t("refs.contactDomain", { domain: item.contact_domain }) : t("refs.noContact");
    return h(
      "td",
      {},
      h("span", { class: "pill pill-warn", text: t("refs.link.domain_missing") }),
      h("div", { class: "sub", text: seen }),
    );
  }
  return h("td", {}, h("a", { href: `#/leads/${encodeURIComponent(item.domain)}`, text: item.domain }));
}

function row(item) {
  return h(
    "tr",
    { "data-referral": item.id },
    h("th", { scope: "row" }, item.customer_name || "—", h("div", { class: "sub", text: item.name || item.id })),
    leadCell(item),
    h("td", { text: item.type ? t(`refs.type.${item.type}`, {}, item.type) : "—" }),
    h(
      "td",
      {},
      item.status ? t(`refs.status.${item.status}`, {}, item.status) : "—",
      item.substatus ? h("div", { class: "sub", text: item.substatus }) : null,
    ),
    h("td", { class: "num", text: item.deal_value === null ? "—" : money(item.deal_value, item.currency) }),
    h("td", { class: "nowrap", text: dateTime(item.updated_at || item.created_at) }),
  );
}

function syncResult(run) {
  return t("refs.synced", {
    fetched: num(run.fetched),
    created: num(run.created),
    updated: num(run.updated),
    missing: num(run.domain_missing),
    scans: num(run.scans_queued),
  });
}

function syncPanel(ctx, status) {
  const last = status.last_run;
  const info = facts([
    [t("dash.state"), t(`state.${status.state || "unknown"}`, {}, status.state)],
    [t("dash.lastSync"), status.last_success_at ? dateTime(status.last_success_at) : null],
    [t("refs.lastRun"), last ? `${dateTime(last.finished_at || last.started_at)} · ${t(`refs.run.${last.status}`, {}, last.status)}` : null],
  ]);
  const button = ctx.can("admin")
    ? h("button", {
        type: "button",
        class: "btn btn-primary",
        text: t("refs.syncNow"),
        onclick: async (event) => {
          const target = event.currentTarget;
          target.disabled = true;
          target.setAttribute("aria-busy", "true");
          target.textContent = t("refs.syncing");
          try {
            const run = await api("/partner-center/sync", { method: "POST" });
            toast(syncResult(run), "success");
            ctx.navigate("referrals", Object.fromEntries(ctx.query));
          } catch (error) {
            toast(error.status === 409 ? t("refs.syncBlocked", { detail: error.title || "" }) : errorText(error), "error");
            target.disabled = false;
            target.removeAttribute("aria-busy");
            target.textContent = t("refs.syncNow");
          }
        },
      })
    : null;
  return h(
    "section",
    { class: "card sync-card", "aria-labelledby": "refs-sync" },
    h("h2", { id: "refs-sync", text: t("refs.syncTitle") }),
    status.needs_login ? h("div", { class: "alert alert-error", role: "alert", text: t("dash.needsLogin") }) : null,
    info,
    button ? h("div", { class: "toolbar" }, button) : null,
  );
}

export async function render(root, ctx) {
  setTitle(t("nav.referrals"));
  const filters = currentFilters(ctx.query);
  const offset = Math.max(0, Number(ctx.query.get("offset") || "0") || 0);
  const summary = h("p", { class: "summary", role: "status", "aria-live": "polite" });
  const syncSlot = h("div", {});
  const results = h("div", { class: "results", "aria-busy": "true" }, loading());
  root.append(h("h1", { text: t("nav.referrals") }), summary, syncSlot, filterForm(ctx, filters), results);

  const [page, board] = await Promise.allSettled([
    api(`/partner-center/referrals${queryString({ ...filters, limit: PAGE_SIZE, offset })}`),
    api("/dashboard"),
  ]);
  if (!ctx.isCurrent()) return;
  clear(results).removeAttribute("aria-busy");
  if (page.status === "rejected") {
    const error = page.reason;
    if (error.status === 404 && error.title === OFF_TITLE) {
      results.append(h("div", { class: "alert alert-info", role: "status" }, h("p", { text: t("refs.off") })));
    } else {
      results.append(errorBox(error, { retry: () => ctx.navigate("referrals", Object.fromEntries(ctx.query)) }));
    }
    return;
  }
  if (board.status === "fulfilled" && board.value.integrations && board.value.integrations.partner_center) {
    syncSlot.append(syncPanel(ctx, board.value.integrations.partner_center));
  }
  const data = page.value;
  summary.textContent = data.total
    ? t("leads.showing", { from: num(offset + 1), to: num(offset + data.items.length), total: num(data.total) })
    : "";
  if (!data.total) {
    results.append(
      Object.keys(filters).length
        ? emptyState(t("refs.noMatch"), h("a", { class: "btn", href: "#/referrals", text: t("leads.clear") }))
        : emptyState(t("refs.empty")),
    );
    return;
  }
  const table = dataTable({
    className: "referrals-table",
    caption: t("refs.caption"),
    headers: [t("refs.customer"), t("refs.lead"), t("ref.type"), t("ref.status"), t("ref.value"), t("refs.updated")],
    rows: data.items.map(row),
  });
  const move = (to) => ctx.navigate("referrals", { ...filters, ...(to ? { offset: String(to) } : {}) });
  const pager = h(
    "nav",
    { class: "pager", "aria-label": t("leads.paging") },
    offset > 0 ? h("button", { type: "button", class: "btn", text: t("leads.previous"), onclick: () => move(Math.max(0, offset - PAGE_SIZE)) }) : null,
    data.next_offset !== null ? h("button", { type: "button", class: "btn btn-primary", text: t("leads.next"), onclick: () => move(data.next_offset) }) : null,
  );
  results.append(table, pager);
}
