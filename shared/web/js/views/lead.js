// One lead (#/leads/acme.com.tr): score and its rules, evidence, changes, sales summary, referrals, Dynamics 365.

import { api } from "../api.js";
import { append, clear, h } from "../dom.js";
import { dateTime, getLang, money, num, problemInputError, t } from "../i18n.js";
import { d365Badge, dataTable, emptyState, errorBox, errorText, facts, loading, priorityBadge, setTitle, toast } from "../ui.js";
import { emailsSection, reportButton } from "./lead_tools.js";

function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/gi, "-")}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id, text: title }), ...children);
}

function breakdown(rules) {
  if (!rules.length) return h("p", { class: "muted", text: t("lead.noBreakdown") });
  const most = Math.max(1, ...rules.map((r) => Math.abs(r.points)));
  return h(
    "ul",
    { class: "bars" },
    rules.map((rule) => {
      const bar = h("span", { class: `bar-fill ${rule.points < 0 ? "neg" : "pos"}` });
      bar.style.setProperty("width", `${Math.round((Math.abs(rule.points) / most) * 100)}%`);
      return h(
        "li",
        { class: "bar-row" },
        h("span", { class: "bar-label", text: t(`rule.${rule.rule}`, {}, rule.rule) }),
        h("span", { class: "bar-track", "aria-hidden": "true" }, bar),
        h("span", { class: "bar-value num", text: `${rule.points > 0 ? "+" : ""}${num(rule.points)}` }),
        h("span", { class: "bar-reason", text: (getLang() === "tr" && rule.reason_tr) || rule.reason }),
      );
    }),
  );
}

function evidence(detail) {
  const snap = detail.snapshot || {};
  const lead = detail.lead;
  const mx = (snap.mx || []).map((m) => (m.host ? `${m.host} (${num(m.preference)})` : t("lead.nullMx")));
  const dkim = (snap.dkim || []).filter((d) => d.has_key || d.cname).map((d) => d.selector);
  const spf = snap.spf ? `${snap.spf.record}${snap.spf.valid ? "" : ` — ${t("lead.invalid")}`}` : null;
  const dmarc = snap.dmarc
    ? `${snap.dmarc.policy || "—"} · pct=${num(snap.dmarc.pct)}${snap.dmarc.valid ? "" : ` — ${t("lead.invalid")}`}`
    : t("lead.none");
  const whois = snap.whois
    ? [snap.whois.registrar, snap.whois.created ? t("lead.created", { date: dateTime(snap.whois.created, false) }) : null]
        .filter(Boolean)
        .join(" · ") || snap.whois.error
    : null;
  return [
    facts([
      [t("col.provider"), lead.provider ? t(`provider.${lead.provider}`, {}, lead.provider) : null],
      [t("lead.localHost"), lead.local_provider],
      [t("lead.gateway"), lead.gateway],
      ["MX", mx.length ? h("ul", { class: "plain" }, mx.map((m) => h("li", { text: m }))) : t("lead.none")],
      ["SPF", spf || t("lead.none")],
      [t("lead.dkim"), dkim.length ? dkim.join(", ") : t("lead.none")],
      ["DMARC", dmarc],
      [t("lead.tenant"), (snap.m365 && snap.m365.tenant_domain) || lead.tenant_domain],
      [t("lead.tenantSize"), lead.tenant_size],
      ["WHOIS", whois],
      [t("lead.hosting"), hostingLine(snap.hosting)],
    ]),
    detail.evidence.length
      ? h("details", {}, h("summary", { text: t("lead.rawEvidence") }), h("ul", { class: "plain small" }, detail.evidence.map((e) => h("li", { text: e }))))
      : null,
  ];
}

// Where the mail servers and the website live: "mail: Natro (AS34619, TR)" from PTR names and the IP database.
function hostingLine(hosting) {
  if (!hosting) return null;
  const where = (a) => {
    const name = a.network || a.org || a.ptr;
    if (!name) return null;
    const details = [a.asn ? `AS${a.asn}` : null, a.country].filter(Boolean).join(", ");
    return details ? `${name} (${details})` : name;
  };
  const lines = [];
  for (const role of ["mx", "apex"]) {
    const address = (hosting.addresses || []).find((a) => a.role === role);
    const text = address ? where(address) : null;
    if (text) lines.push(t(role === "mx" ? "lead.hostingMail" : "lead.hostingWeb", { where: text }));
  }
  if (hosting.error) lines.push(t("lead.hostingDbError", { error: hosting.error }));
  return lines.length ? h("ul", { class: "plain hosting" }, lines.map((line) => h("li", { text: line }))) : null;
}

function reconError(code) {
  if (!code) return null;
  const http = /^http_(\d+)$/.exec(code);
  return t("lead.reconError", { error: http ? t("recon.http", { status: http[1] }) : t(`recon.${code}`, {}, code) });
}

// Microsoft 365 tenant recon (HUNTER_TENANT_RECON_ENABLED): tenant id, region and how its users sign in.
function tenantBox(recon) {
  const federated = recon.namespace_type === "Federated";
  const idp = [recon.federation_idp || t("lead.federationService"), recon.auth_url_host ? `(${recon.auth_url_host})` : null].filter(Boolean).join(" ");
  const signIn = {
    Managed: t("lead.signInManaged"),
    Federated: t("lead.signInFederated", { idp }),
    Unknown: t("lead.signInUnknown"),
  }[recon.namespace_type];
  const region = [recon.region_scope, recon.region_sub_scope, recon.cloud_instance].filter(Boolean).join(" · ");
  return [
    facts([
      [t("lead.tenantId"), recon.tenant_id ? h("code", { class: "tenant-id", text: recon.tenant_id }) : null],
      [t("lead.tenantRegion"), region],
      [t("lead.signIn"), signIn ? h("span", { class: `pill signin-${(recon.namespace_type || "").toLowerCase()}`, text: signIn }) : null],
      [t("lead.tenantBrand"), recon.federation_brand],
    ]),
    federated ? h("p", { class: "alert alert-info", text: t("lead.federatedHint") }) : null,
    recon.error ? h("p", { class: "small muted", text: reconError(recon.error) }) : null,
  ];
}

// The vendors the DNS names, grouped by category (the server lists them in its category order).
function technologies(snap) {
  const list = (snap && snap.technologies) || [];
  if (!list.length) return h("p", { class: "muted", text: t("lead.noTechnologies") });
  const groups = new Map();
  for (const tech of list) {
    if (!groups.has(tech.category)) groups.set(tech.category, []);
    groups.get(tech.category).push(tech);
  }
  return facts(
    [...groups].map(([category, items]) => [
      t(`techcat.${category}`, {}, category),
      h(
        "ul",
        { class: "plain tech-list" },
        items.map((tech) =>
          h(
            "li",
            {},
            h("strong", { text: tech.name }),
            " ",
            h("span", { class: "small muted", text: t("lead.techEvidence", { evidence: tech.evidence.join(" · ") }) }),
          ),
        ),
      ),
    ]),
  );
}

function changes(list) {
  if (!list.length) return h("p", { class: "muted", text: t("lead.noChanges") });
  return h(
    "ol",
    { class: "timeline" },
    list.map((c) =>
      h(
        "li",
        {},
        h("time", { datetime: c.at || "", text: c.at ? dateTime(c.at) : "—" }),
        h("strong", { text: c.summary }),
        c.meaning ? h("p", { class: "small", text: c.meaning }) : null,
      ),
    ),
  );
}

function salesSummary(domain) {
  const body = h("div", { class: "summary-body" });
  const buttons = {};
  let shown = null;
  async function show(lang) {
    for (const [code, button] of Object.entries(buttons)) button.setAttribute("aria-pressed", String(code === lang));
    clear(body).append(loading());
    body.setAttribute("aria-busy", "true");
    try {
      const s = await api(`/leads/${encodeURIComponent(domain)}/sales-summary?lang=${lang}`);
      shown = s;
      clear(body).removeAttribute("aria-busy");
      body.setAttribute("lang", lang);
      append(body, [
        h("p", { class: "one-liner", text: s.one_liner }),
        h("h3", { text: t("lead.callScript") }),
        h("ol", { class: "script" }, s.call_script.map((line) => h("li", { text: line }))),
        h("h3", { text: t("lead.questions") }),
        h("ul", {}, s.discovery_questions.map((q) => h("li", { text: q }))),
        s.security_findings.length ? [h("h3", { text: t("lead.findings") }), h("ul", {}, s.security_findings.map((f) => h("li", { text: f })))] : null,
        (s.technology_hooks || []).length ? [h("h3", { text: t("lead.techHooks") }), h("ul", {}, s.technology_hooks.map((line) => h("li", { text: line })))] : null,
        h("h3", { text: t("lead.nextAction") }),
        h("p", { text: s.next_action }),
      ]);
    } catch (error) {
      body.removeAttribute("aria-busy");
      clear(body).append(errorBox(error, { retry: () => show(lang) }));
    }
  }
  const toggle = h(
    "div",
    { class: "segmented", role: "group", "aria-label": t("lead.summaryLanguage") },
    ["tr", "en"].map((code) => {
      buttons[code] = h("button", { type: "button", class: "btn", lang: code, "aria-pressed": "false", text: code === "tr" ? "Türkçe" : "English", onclick: () => show(code) });
      return buttons[code];
    }),
  );
  const copy = h("button", {
    type: "button",
    class: "btn",
    text: t("lead.copyScript"),
    onclick: async () => {
      if (!shown) return;
      try {
        await navigator.clipboard.writeText(shown.call_script.join("\n"));
        toast(t("lead.copied"), "success");
      } catch {
        toast(t("lead.copyFailed"), "error");
      }
    },
  });
  show(getLang());
  return section(t("lead.salesSummary"), h("div", { class: "toolbar" }, toggle, copy), body);
}

function referrals(list) {
  if (!list.length) return h("p", { class: "muted", text: t("lead.noReferrals") });
  return dataTable({
    headers: [t("ref.name"), t("ref.type"), t("ref.status"), t("ref.value"), t("ref.created")],
    rows: list.map((r) =>
      h(
        "tr",
        {},
        h("td", { text: r.name || r.customer_name || r.id }),
        h("td", { text: r.type || "—" }),
        h("td", { text: [r.status, r.substatus].filter(Boolean).join(" / ") || "—" }),
        h("td", { class: "num", text: r.deal_value === null ? "—" : money(r.deal_value, r.currency) }),
        h("td", { text: r.created_at ? dateTime(r.created_at, false) : "—" }),
      ),
    ),
  });
}

function d365Box(ctx, lead, refresh) {
  const message = h("div", { role: "status", "aria-live": "polite" });
  const push = ctx.can("scan")
    ? h("button", {
        type: "button",
        class: "btn btn-primary",
        text: t("lead.push"),
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          clear(message);
          try {
            const result = await api(`/leads/${encodeURIComponent(lead.domain)}/d365-push`, { method: "POST" });
            toast(result.already_queued ? t("lead.pushAlready") : t("lead.pushQueued"), "success");
            refresh();
          } catch (error) {
            button.disabled = false;
            message.append(
              h("div", { class: error.status === 409 ? "alert alert-info" : "alert alert-error", role: "alert" }, h("p", { text: error.status === 409 ? t("lead.d365Off", { detail: error.detail || "" }) : errorText(error) })),
            );
          }
        },
      })
    : null;
  return section(
    "Dynamics 365",
    facts([
      [t("col.d365"), d365Badge(lead.d365_sync_status)],
      [t("lead.d365Link"), lead.d365_lead_url ? h("a", { href: lead.d365_lead_url, target: "_blank", rel: "noopener noreferrer", text: t("lead.openInD365") }) : null],
      [t("lead.syncedAt"), lead.d365_synced_at ? dateTime(lead.d365_synced_at) : null],
      [t("lead.lastError"), lead.d365_last_error],
    ]),
    push,
    message,
  );
}

export async function render(root, ctx) {
  const domain = ctx.parts[0];
  setTitle(domain, t("nav.leads"));
  const back = h("p", {}, h("a", { href: "#/leads", text: `← ${t("lead.back")}` }));
  root.append(back, loading());
  let detail;
  try {
    detail = await api(`/leads/${encodeURIComponent(domain)}`);
  } catch (error) {
    if (!ctx.isCurrent()) return;
    clear(root).append(back, h("h1", { text: domain }));
    const notADomain = problemInputError(error); // 422: the address names no domain, and says why
    if (notADomain) {
      root.append(h("div", { class: "alert alert-error", role: "alert", text: notADomain }));
      return;
    }
    root.append(error.status === 404 ? emptyState(t("lead.notFound"), ctx.can("scan") ? h("a", { class: "btn btn-primary", href: "#/scan", text: t("nav.scan") }) : null) : errorBox(error, { retry: () => ctx.navigate(`leads/${encodeURIComponent(domain)}`) }));
    return;
  }
  if (!ctx.isCurrent()) return;
  const lead = detail.lead;
  const refresh = () => ctx.navigate(`leads/${encodeURIComponent(domain)}`);
  const rescan = ctx.can("scan")
    ? h("button", {
        type: "button",
        class: "btn",
        text: t("lead.rescan"),
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          button.setAttribute("aria-busy", "true");
          button.textContent = t("lead.rescanning");
          try {
            const result = await api(`/leads/${encodeURIComponent(domain)}/rescan?lang=${getLang()}`, { method: "POST" });
            toast(result.changes.length ? t("lead.rescanChanged", { count: num(result.changes.length) }) : t("lead.rescanSame"), "success");
            refresh();
          } catch (error) {
            button.disabled = false;
            button.textContent = t("lead.rescan");
            toast(errorText(error), "error");
          }
        },
      })
    : null;
  clear(root).append(
    back,
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", { text: lead.domain_unicode || lead.domain }), lead.company_name ? h("p", { class: "subtitle", text: lead.company_name }) : null),
      h("div", { class: "toolbar" }, reportButton(lead.domain), rescan),
    ),
    h(
      "div",
      { class: "grid-2" },
      section(
        t("lead.score"),
        h(
          "div",
          { class: "score-head" },
          h("span", { class: "score-big", text: lead.score === null ? "—" : num(lead.score) }),
          h("span", { class: "score-of", text: "/ 100" }),
          priorityBadge(lead.priority_category),
          h("span", { class: "muted", text: lead.priority_category ? t(`priority.${lead.priority_category}`) : "" }),
        ),
        facts([
          [t("col.segment"), lead.segment ? t(`segment.${lead.segment}`, {}, lead.segment) : null],
          [t("leads.commercial"), lead.commercial_segment ? t(`commercial.${lead.commercial_segment}`, {}, lead.commercial_segment) : null],
          [t("lead.technicalHeat"), detail.priority ? h("span", { class: `pill heat-${detail.priority.technical_heat.toLowerCase()}`, text: t(`heat.${detail.priority.technical_heat}`, {}, detail.priority.technical_heat) }) : null],
          [t("lead.commercialHeat"), detail.priority ? h("span", { class: `pill heat-${detail.priority.commercial_heat.toLowerCase()}`, text: t(`heat.${detail.priority.commercial_heat}`, {}, detail.priority.commercial_heat) }) : null],
          [t("col.lastScan"), dateTime(lead.scanned_at)],
        ]),
        h("h3", { text: t("lead.breakdown") }),
        breakdown(detail.breakdown),
      ),
      section(t("lead.evidence"), ...evidence(detail)),
    ),
    section(t("lead.technologies"), technologies(detail.snapshot)),
    ...(detail.snapshot && detail.snapshot.tenant_recon ? [section(t("lead.tenantRecon"), ...tenantBox(detail.snapshot.tenant_recon))] : []),
    salesSummary(lead.domain),
    emailsSection(lead.domain),
    h("div", { class: "grid-2" }, d365Box(ctx, lead, refresh), section(t("lead.referrals"), referrals(detail.referrals))),
    section(t("lead.changes"), changes(detail.changes)),
  );
}
