// Dashboard: counts as CSS bar charts, average score, recent changes and the integrations at a glance.

import { api } from "../api.js";
import { clear, h } from "../dom.js";
import { dateTime, num, t } from "../i18n.js";
import { emptyState, errorBox, facts, loading, setTitle } from "../ui.js";

// `of`: what the percentages are of (default: the sum of the counts; a lead has several technologies).
function chart(id, title, counts, { label = (k) => k, link, colour, none = t("dash.unknown"), of = null } = {}) {
  const total = of || counts.reduce((sum, c) => sum + c.count, 0) || 1;
  const most = Math.max(1, ...counts.map((c) => c.count));
  return h(
    "section",
    { class: "card chart", "aria-labelledby": id },
    h("h2", { id, text: title }),
    counts.length
      ? h(
          "ul",
          { class: "bars" },
          counts.map((c) => {
            const fill = h("span", { class: `bar-fill ${colour ? colour(c.key) : "pos"}` });
            fill.style.setProperty("width", `${Math.max(2, Math.round((c.count / most) * 100))}%`);
            const name = c.key === null ? none : label(c.key);
            return h(
              "li",
              { class: "bar-row" },
              h("span", { class: "bar-label" }, link && c.key !== null ? h("a", { href: link(c.key), text: name }) : name),
              h("span", { class: "bar-track", "aria-hidden": "true" }, fill),
              h("span", { class: "bar-value num", text: `${num(c.count)} (${num((c.count / total) * 100, 0)}%)` }),
            );
          }),
        )
      : h("p", { class: "muted", text: t("dash.noData") }),
  );
}

function integrations(data) {
  const d365 = data.d365 || {};
  const pc = data.partner_center || {};
  const state = (s) => t(`state.${s}`, {}, s);
  return h(
    "section",
    { class: "card", "aria-labelledby": "dash-int" },
    h("h2", { id: "dash-int", text: t("dash.integrations") }),
    h(
      "div",
      { class: "grid-2" },
      h(
        "div",
        {},
        h("h3", { text: "Dynamics 365" }),
        facts([
          [t("dash.state"), d365.enabled === false ? t("state.disabled") : state(d365.state || "unknown")],
          [t("d365.queued"), d365.counts ? num(d365.counts.queued) : null],
          [t("d365.synced"), d365.counts ? num(d365.counts.synced) : null],
          [t("d365.failed"), d365.counts ? num(d365.counts.failed) : null],
          [t("dash.lastSync"), d365.last_synced_at ? dateTime(d365.last_synced_at) : null],
          [
            t("lead.lastError"),
            d365.last_error ? h("span", {}, h("a", { href: `#/leads/${encodeURIComponent(d365.last_error.domain)}`, text: d365.last_error.domain }), `: ${d365.last_error.error}`) : null,
          ],
        ]),
      ),
      h(
        "div",
        {},
        h("h3", { text: "Partner Center" }),
        pc.needs_login ? h("div", { class: "alert alert-error", role: "alert", text: t("dash.needsLogin") }) : null,
        facts([
          [t("dash.state"), pc.enabled === false ? t("state.disabled") : state(pc.state || "unknown")],
          [t("dash.lastSync"), pc.last_success_at ? dateTime(pc.last_success_at) : null],
          [t("dash.running"), pc.enabled === false ? null : pc.running ? t("common.yes") : t("common.no")],
        ]),
      ),
    ),
  );
}

function rescans(data) {
  const last = data.last_run;
  return h(
    "section",
    { class: "card", "aria-labelledby": "dash-rescan" },
    h("h2", { id: "dash-rescan", text: t("dash.rescans") }),
    facts([
      [t("dash.rescanLast"), last ? `${dateTime(last.at)} — ${t(`rescan.${last.status}`, {}, last.status)}` : t("dash.rescanNever")],
      [t("dash.rescanSubmitted"), last ? num(last.submitted) : null],
      [t("dash.rescanNext"), data.next_run_at ? dateTime(data.next_run_at) : null],
    ]),
  );
}

export async function render(root, ctx) {
  setTitle(t("nav.dashboard"));
  root.append(h("h1", { text: t("nav.dashboard") }));
  const body = h("div", { "aria-busy": "true" }, loading());
  root.append(body);
  let data;
  try {
    data = await api("/dashboard");
  } catch (error) {
    if (!ctx.isCurrent()) return;
    body.removeAttribute("aria-busy");
    clear(body).append(errorBox(error, { retry: () => ctx.navigate("dashboard") }));
    return;
  }
  if (!ctx.isCurrent()) return;
  body.removeAttribute("aria-busy");
  clear(body);
  if (data.total === 0) {
    body.append(emptyState(t("leads.empty"), ctx.can("scan") ? h("a", { class: "btn btn-primary", href: "#/scan", text: t("nav.scan") }) : null));
    body.append(integrations(data.integrations || {}), rescans(data.rescans || {}));
    return;
  }
  const byPriority = [...data.by_priority].sort((a, b) => String(a.key).localeCompare(String(b.key)));
  body.append(
    h(
      "div",
      { class: "stats" },
      h("div", { class: "stat card" }, h("span", { class: "stat-value", text: num(data.total) }), h("span", { class: "stat-label", text: t("dash.total") })),
      h("div", { class: "stat card" }, h("span", { class: "stat-value", text: data.average_score === null ? "—" : num(data.average_score, 1) }), h("span", { class: "stat-label", text: t("dash.average") })),
    ),
    h(
      "div",
      { class: "grid-2" },
      chart("dash-prio", t("col.priority"), byPriority, {
        label: (k) => `${k} — ${t(`priority.${k}`, {}, k)}`,
        link: (k) => `#/leads?priority=${encodeURIComponent(k)}`,
        colour: (k) => `prio-${String(k).toLowerCase()}`,
      }),
      chart("dash-seg", t("col.segment"), data.by_segment, { label: (k) => t(`segment.${k}`, {}, k), link: (k) => `#/leads?segment=${encodeURIComponent(k)}` }),
      chart("dash-prov", t("col.provider"), data.by_provider, { label: (k) => t(`provider.${k}`, {}, k), link: (k) => `#/leads?provider=${encodeURIComponent(k)}`, none: t("dash.noMail") }),
      chart("dash-com", t("leads.commercial"), data.by_commercial_segment, {
        label: (k) => t(`commercial.${k}`, {}, k),
        link: (k) => `#/leads?commercial_segment=${encodeURIComponent(k)}`,
      }),
      (data.by_technology || []).length
        ? chart("dash-tech", t("lead.technologies"), data.by_technology.slice(0, 10), { link: (k) => `#/leads?tech=${encodeURIComponent(k)}`, of: data.total })
        : null,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "dash-recent" },
      h("h2", { id: "dash-recent", text: t("dash.recent") }),
      data.recent_changes.length
        ? h(
            "ol",
            { class: "timeline" },
            data.recent_changes.map((c) => {
              const domain = c.domain || (c.summary.match(/[a-z0-9.-]+\.[a-z]{2,}/i) || [null])[0];
              return h(
                "li",
                {},
                h("time", { datetime: c.at || "", text: c.at ? dateTime(c.at) : "—" }),
                domain ? h("a", { href: `#/leads/${encodeURIComponent(domain)}`, text: domain }) : null,
                h("span", { text: ` ${c.summary}` }),
              );
            }),
          )
        : h("p", { class: "muted", text: t("lead.noChanges") }),
    ),
    integrations(data.integrations || {}),
    rescans(data.rescans || {}),
  );
}
