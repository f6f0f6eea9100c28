// Leads: server-side filters, sorting and cursor paging; the view lives in the URL (#/leads?priority=P1&sort=-score).

import { api, download, queryString } from "../api.js";
import { callListButton } from "./lead_tools.js";
import { clear, h, svgIcon } from "../dom.js";
import { dateTime, getLang, num, t } from "../i18n.js";
import { d365Badge, dataTable, emptyState, errorBox, filterActions, filterInput, filterSelect, formFilters, loading, priorityBadge, setTitle, toast } from "../ui.js";

const FILTERS = ["q", "segment", "provider", "priority", "commercial_segment", "tech", "min_score", "max_score", "changed_since", "d365_sync_status", "has_referral"];
const PAGE_SIZE = 50;
const SORTABLE = { domain: "domain", provider: "provider", score: "score", priority: "priority", scanned_at: "scanned_at" };
const PRIORITIES = ["P1", "P2", "P3", "P4", "P5", "P6"];
const D365 = ["not_synced", "queued", "synced", "failed"];

let options = null; // filter choices from the dashboard counts, once per page load
const previousCursors = []; // the cursors of the pages walked through with "next" (cursor paging goes forward)

async function filterOptions() {
  if (!options) {
    const board = await api("/dashboard");
    const keys = (counts) => counts.map((c) => c.key).filter(Boolean).sort((a, b) => a.localeCompare(b, getLang()));
    options = {
      segment: keys(board.by_segment),
      provider: keys(board.by_provider),
      commercial_segment: keys(board.by_commercial_segment),
      tech: keys(board.by_technology || []), // the technologies seen on at least one lead
    };
  }
  return options;
}

function currentFilters(query) {
  const out = {};
  for (const name of FILTERS) if (query.get(name)) out[name] = query.get(name);
  return out;
}

function filterForm(ctx, filters, opts) {
  const form = h(
    "form",
    { class: "filters card", role: "search", "aria-label": t("leads.filters") },
    filterInput("f-", "q", t("leads.search"), { type: "search", placeholder: t("leads.searchHint"), maxlength: 253 }, filters.q),
    filterSelect("f-", "priority", t("col.priority"), PRIORITIES, filters.priority, (p) => `${p} — ${t(`priority.${p}`)}`),
    filterSelect("f-", "segment", t("col.segment"), opts.segment, filters.segment, (s) => t(`segment.${s}`, {}, s)),
    filterSelect("f-", "provider", t("col.provider"), opts.provider, filters.provider, (p) => t(`provider.${p}`, {}, p)),
    filterSelect("f-", "commercial_segment", t("leads.commercial"), opts.commercial_segment, filters.commercial_segment, (s) =>
      t(`commercial.${s}`, {}, s),
    ),
    filterSelect("f-", "tech", t("leads.tech"), opts.tech, filters.tech),
    filterInput("f-", "min_score", t("leads.minScore"), { type: "number", min: 0, max: 100, inputmode: "numeric" }, filters.min_score),
    filterInput("f-", "max_score", t("leads.maxScore"), { type: "number", min: 0, max: 100, inputmode: "numeric" }, filters.max_score),
    filterInput("f-", "changed_since", t("leads.changedSince"), { type: "date", title: t("leads.changedSinceHelp") }, filters.changed_since),
    filterSelect("f-", "d365_sync_status", t("col.d365"), D365, filters.d365_sync_status, (s) => t(`d365.${s}`)),
    filterSelect("f-", "has_referral", t("col.referral"), ["true", "false"], filters.has_referral, (v) =>
      t(v === "true" ? "leads.withReferral" : "leads.withoutReferral"),
    ),
    filterActions(),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = formFilters(form, FILTERS);
    const sort = ctx.query.get("sort");
    if (sort) next.sort = sort;
    ctx.navigate("leads", next);
  });
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    const sort = ctx.query.get("sort");
    ctx.navigate("leads", sort ? { sort } : {});
  });
  return form;
}

function sortHeader(ctx, key, label) {
  const sort = ctx.query.get("sort") || "-priority";
  const active = sort.replace(/^-/, "") === key;
  const descending = sort.startsWith("-");
  const next = active && descending ? key : `-${key}`;
  const button = h(
    "button",
    {
      type: "button",
      class: "sort",
      title: t("leads.sortBy", { column: label }),
      onclick: () => {
        const query = Object.fromEntries(ctx.query);
        delete query.cursor;
        ctx.navigate("leads", { ...query, sort: next });
      },
    },
    label,
    svgIcon(active ? (descending ? "down" : "up") : "both"),
  );
  return h("th", { scope: "col", "aria-sort": active ? (descending ? "descending" : "ascending") : "none" }, button);
}

function providerCell(item) {
  const main = item.provider ? t(`provider.${item.provider}`, {}, item.provider) : "—";
  const extra = [item.local_provider, item.gateway ? t("leads.via", { gateway: item.gateway }) : null].filter(Boolean);
  return h("td", {}, main, extra.length ? h("div", { class: "sub", text: extra.join(" · ") }) : null);
}

function row(item) {
  return h(
    "tr",
    {},
    h(
      "th",
      { scope: "row" },
      h("a", { href: `#/leads/${encodeURIComponent(item.domain)}`, text: item.domain_unicode || item.domain }),
    ),
    h("td", { text: item.company_name || "—" }),
    providerCell(item),
    h("td", { text: item.segment ? t(`segment.${item.segment}`, {}, item.segment) : "—" }),
    h("td", { class: "num", text: item.score === null ? "—" : num(item.score) }),
    h("td", {}, priorityBadge(item.priority_category)),
    h("td", {}, d365Badge(item.d365_sync_status)),
    h(
      "td",
      { class: "center" },
      item.referral_count > 0
        ? h("span", { class: "referral", title: t("leads.referrals", { count: num(item.referral_count) }) }, svgIcon("star"), h("span", { class: "sr-only", text: t("leads.referrals", { count: num(item.referral_count) }) }), num(item.referral_count))
        : h("span", { class: "muted", "aria-label": t("leads.noReferral"), text: "—" }),
    ),
    h("td", { class: "nowrap", text: dateTime(item.scanned_at) }),
  );
}

export async function render(root, ctx) {
  setTitle(t("nav.leads"));
  const filters = currentFilters(ctx.query);
  const sort = ctx.query.get("sort") || "";
  const cursor = ctx.query.get("cursor") || "";
  const page = Number(ctx.query.get("page") || "1") || 1;
  if (page === 1) previousCursors.length = 0;
  const heading = h("h1", { text: t("nav.leads") });
  const summary = h("p", { class: "summary", role: "status", "aria-live": "polite" });
  const exportButtons = h(
    "div",
    { class: "toolbar" },
    ["csv", "xlsx"].map((format) =>
      h("button", {
        type: "button",
        class: "btn",
        text: t(format === "csv" ? "leads.exportCsv" : "leads.exportXlsx"),
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          button.setAttribute("aria-busy", "true");
          try {
            const params = { ...filters, sort, format, delimiter: format === "csv" && getLang() === "tr" ? ";" : null };
            const name = await download(`/leads/export${queryString(params)}`, `hunter-leads.${format}`);
            toast(t("leads.exported", { name }), "success");
          } catch (error) {
            toast(errorBoxText(error), "error");
          } finally {
            button.disabled = false;
            button.removeAttribute("aria-busy");
          }
        },
      }),
    ),
  );
  exportButtons.append(callListButton(filters, sort));
  if (ctx.can("scan")) exportButtons.append(rescanButton(ctx, filters));
  root.append(h("div", { class: "page-head" }, heading, exportButtons), summary);
  const formSlot = h("div", {}, loading());
  const results = h("div", { class: "results", "aria-busy": "true" }, loading(t("leads.loading")));
  root.append(formSlot, results);

  // The table does not wait for the filter choices (dashboard counts): the first page shows as soon as it arrives.
  const noOptions = { segment: [], provider: [], commercial_segment: [] };
  filterOptions()
    .catch(() => noOptions)
    .then((opts) => {
      if (ctx.isCurrent()) clear(formSlot).append(filterForm(ctx, filters, opts));
    });
  const [pageData] = await Promise.allSettled([api(`/leads${queryString({ ...filters, sort, cursor, limit: PAGE_SIZE })}`)]);
  if (!ctx.isCurrent()) return;
  clear(results).removeAttribute("aria-busy");
  if (pageData.status === "rejected") {
    results.append(errorBox(pageData.reason, { retry: () => ctx.navigate("leads", Object.fromEntries(ctx.query)) }));
    return;
  }
  const data = pageData.value;
  const first = (page - 1) * PAGE_SIZE + 1;
  summary.textContent = data.total
    ? t("leads.showing", { from: num(first), to: num(first + data.items.length - 1), total: num(data.total) })
    : "";
  if (data.total === 0) {
    const filtered = Object.keys(filters).length > 0;
    results.append(
      filtered
        ? emptyState(t("leads.noMatch"), h("a", { class: "btn", href: "#/leads", text: t("leads.clear") }))
        : emptyState(t("leads.empty"), ctx.can("scan") ? h("a", { class: "btn btn-primary", href: "#/scan", text: t("nav.scan") }) : null),
    );
    return;
  }
  const table = dataTable({
    className: "leads-table",
    caption: t("leads.caption"),
    headers: [
      sortHeader(ctx, SORTABLE.domain, t("col.domain")),
      t("col.company"),
      sortHeader(ctx, SORTABLE.provider, t("col.provider")),
      t("col.segment"),
      sortHeader(ctx, SORTABLE.score, t("col.score")),
      sortHeader(ctx, SORTABLE.priority, t("col.priority")),
      t("col.d365"),
      t("col.referral"),
      sortHeader(ctx, SORTABLE.scanned_at, t("col.lastScan")),
    ],
    rows: data.items.map(row),
  });
  const base = { ...filters, ...(sort ? { sort } : {}) };
  const pager = h(
    "nav",
    { class: "pager", "aria-label": t("leads.paging") },
    page > 1 ? h("button", { type: "button", class: "btn", text: t("leads.firstPage"), onclick: () => ctx.navigate("leads", base) }) : null,
    page > 1 && previousCursors.length
      ? h("button", {
          type: "button",
          class: "btn",
          text: t("leads.previous"),
          onclick: () => {
            const back = previousCursors.pop();
            ctx.navigate("leads", back ? { ...base, cursor: back, page: String(page - 1) } : base);
          },
        })
      : null,
    data.next
      ? h("button", {
          type: "button",
          class: "btn btn-primary",
          text: t("leads.next"),
          onclick: () => {
            previousCursors.push(cursor);
            ctx.navigate("leads", { ...base, cursor: data.next, page: String(page + 1) });
          },
        })
      : null,
  );
  results.append(table, pager);
}

// Rescan every lead of the filtered list as one job (POST /v1/rescans), then follow the job.
function rescanButton(ctx, filters) {
  return h("button", {
    type: "button",
    class: "btn",
    text: t("leads.rescan"),
    onclick: async (event) => {
      if (!window.confirm(t("leads.rescanConfirm"))) return;
      const button = event.currentTarget;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      try {
        const job = await api("/rescans", { method: "POST", json: { filter: filters } });
        toast(t("leads.rescanQueued", { count: num(job.totals.unique) }), "success");
        ctx.navigate(`scan/jobs/${encodeURIComponent(job.id)}`);
      } catch (error) {
        toast(errorBoxText(error), "error");
      } finally {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    },
  });
}

function errorBoxText(error) {
  return errorBox(error).textContent;
}
