// Scan: one domain now, or a CSV/XLSX list as a bulk job (#/scan/jobs/<id> follows it, and survives a reload).

import { api } from "../api.js";
import { append, clear, h } from "../dom.js";
import { dateTime, duration, getLang, inputError, num, percent, problemInputError, t } from "../i18n.js";
import { dataTable, errorBox, errorText, facts, loading, priorityBadge, setTitle } from "../ui.js";

const ACCEPT = ".csv,.txt,.xlsx,text/csv,text/plain,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const POLL_MS = 1000;

/** A 422 saying why the input is not a domain, worded here from its code; any other error as usual. */
function scanError(error) {
  const reason = problemInputError(error);
  return reason ? h("div", { class: "alert alert-error", role: "alert", text: reason }) : errorBox(error);
}

function scanOne() {
  const result = h("div", { role: "status", "aria-live": "polite" });
  const field = h("input", { id: "scan-domain", name: "domain", type: "text", required: true, maxlength: 2048, placeholder: "acme.com.tr", autocomplete: "off", spellcheck: "false" });
  const button = h("button", { type: "submit", class: "btn btn-primary", text: t("scan.now") });
  const form = h(
    "form",
    { class: "inline-form" },
    h("label", { for: "scan-domain", text: t("scan.domainLabel") }),
    h("div", { class: "row" }, field, button),
    h("p", { class: "help", text: t("scan.domainHelp") }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!field.value.trim()) {
      field.focus();
      return;
    }
    button.disabled = true;
    clear(result).append(loading(t("scan.scanning")));
    try {
      const lead = await api("/scan", { method: "POST", json: { domain: field.value.trim(), lang: getLang() } });
      clear(result);
      if (lead.status !== "ok" && lead.score === null) {
        result.append(h("div", { class: "alert alert-info", role: "alert", text: t("scan.notScored", { status: t(`scanStatus.${lead.status}`, {}, lead.status), error: lead.error || "" }) }));
      } else {
        result.append(
          h(
            "div",
            { class: "result card" },
            h("p", {}, h("a", { href: `#/leads/${encodeURIComponent(lead.domain)}`, text: lead.domain_unicode || lead.domain }), " ", priorityBadge(lead.priority_category)),
            facts([
              [t("col.score"), lead.score === null ? null : num(lead.score)],
              [t("col.provider"), lead.provider ? t(`provider.${lead.provider}`, {}, lead.provider) : null],
              [t("col.segment"), lead.segment ? t(`segment.${lead.segment}`, {}, lead.segment) : null],
            ]),
          ),
        );
      }
    } catch (error) {
      clear(result).append(scanError(error));
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { class: "card", "aria-labelledby": "scan-one" }, h("h2", { id: "scan-one", text: t("scan.oneTitle") }), form, result);
}

function upload(ctx) {
  const status = h("div", { role: "status", "aria-live": "polite" });
  const picker = h("input", { id: "scan-file", name: "file", type: "file", accept: ACCEPT, class: "file-input" });
  const zone = h(
    "label",
    { for: "scan-file", class: "dropzone" },
    h("strong", { text: t("scan.drop") }),
    h("span", { text: t("scan.dropHelp") }),
  );
  function formFor(file) {
    const form = new FormData();
    form.append("file", file, file.name);
    return form;
  }
  async function submit(file, button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const job = await api(`/scans?lang=${getLang()}&source=${encodeURIComponent(file.name)}`, { method: "POST", body: formFor(file) });
      ctx.navigate(`scan/jobs/${encodeURIComponent(job.id)}`);
    } catch (error) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      status.append(errorBox(error));
    }
  }
  async function check(file) {
    if (!file) return;
    if (!/\.(csv|txt|xlsx)$/i.test(file.name)) {
      clear(status).append(h("div", { class: "alert alert-error", role: "alert", text: t("scan.badType") }));
      return;
    }
    clear(status).append(loading(t("scan.checking", { name: file.name })));
    let preview;
    try {
      preview = await api("/scans/preview", { method: "POST", body: formFor(file) });
    } catch (error) {
      clear(status).append(errorBox(error));
      return;
    }
    clear(status).append(previewCard(file, preview));
  }
  function previewCard(file, preview) {
    const start = h("button", { type: "button", class: "btn btn-primary", text: t("scan.start", { count: num(preview.unique) }), disabled: preview.unique === 0 });
    start.addEventListener("click", () => submit(file, start));
    const again = h("button", {
      type: "button",
      class: "btn",
      text: t("scan.otherFile"),
      onclick: () => {
        clear(status);
        picker.value = "";
        picker.click();
      },
    });
    const column = preview.domain_column
      ? t(preview.detected ? "scan.columnDetected" : "scan.columnNamed", { column: preview.domain_column })
      : t("scan.columnList");
    const problems = preview.invalid_rows.length
      ? h(
          "details",
          { class: "problems", open: preview.invalid_rows.length <= 10 },
          h("summary", { text: t("scan.invalidRows", { count: num(preview.invalid) }) }),
          dataTable({
            className: "invalid-table",
            headers: [t("job.row"), t("job.input"), t("job.error")],
            rows: preview.invalid_rows.map((r) => h("tr", {}, h("td", { class: "num", text: r.line === null ? "—" : num(r.line) }), h("td", { text: r.input || "—" }), h("td", { text: inputError(r) || "—" }))),
          }),
        )
      : null;
    return h(
      "div",
      { class: "preview card", "aria-labelledby": "scan-preview" },
      h("h3", { id: "scan-preview", text: t("scan.previewTitle", { name: file.name }) }),
      facts([
        [t("scan.column"), column],
        [t("scan.companyColumn"), preview.company_column],
        [t("scan.rows"), num(preview.rows)],
        [t("scan.toScan"), num(preview.unique)],
        [t("job.duplicates"), num(preview.duplicates)],
        [t("job.invalid"), num(preview.invalid)],
        [t("scan.sample"), preview.sample.length ? preview.sample.map((r) => r.domain).join(", ") : null],
      ]),
      problems,
      preview.unique === 0 ? h("div", { class: "alert alert-error", role: "alert", text: t("scan.nothingToScan") }) : null,
      h("div", { class: "toolbar" }, start, again),
    );
  }
  picker.addEventListener("change", () => check(picker.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    check(event.dataTransfer.files[0]);
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "scan-bulk" },
    h("h2", { id: "scan-bulk", text: t("scan.bulkTitle") }),
    h("p", { class: "help", text: t("scan.bulkHelp") }),
    picker,
    zone,
    status,
  );
}

function progressBar(value) {
  const fill = h("span", { class: "progress-fill" });
  fill.style.setProperty("width", `${Math.round(value * 100)}%`);
  return h(
    "div",
    { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(value * 100), "aria-label": t("job.progress") },
    fill,
  );
}

async function problems(jobId) {
  const [invalid, failed] = await Promise.all(
    ["invalid", "failed"].map((s) => api(`/scans/${encodeURIComponent(jobId)}/results?status=${s}&limit=200`)),
  );
  const items = [...invalid.items, ...failed.items].sort((a, b) => a.seq - b.seq);
  if (!items.length) return h("p", { class: "muted", text: t("job.noProblems") });
  return dataTable({
    caption: t("job.problems"),
    headers: [t("job.row"), t("job.input"), t("job.status"), t("job.error")],
    rows: items.map((item) =>
      h(
        "tr",
        {},
        h("td", { class: "num", text: item.row === null ? num(item.seq) : num(item.row) }),
        h("td", { text: item.input }),
        h("td", { text: t(`jobItem.${item.status}`) }),
        h("td", { text: inputError(item) || (item.scan_status ? t(`scanStatus.${item.scan_status}`, {}, item.scan_status) : "—") }),
      ),
    ),
  });
}

async function jobView(root, ctx, jobId) {
  setTitle(t("job.title"), t("nav.scan"));
  root.append(h("p", {}, h("a", { href: "#/scan", text: `← ${t("job.newScan")}` })), h("h1", { text: t("job.title") }));
  const box = h("section", { class: "card", "aria-live": "polite", "aria-busy": "true" }, loading());
  const errors = h("section", { class: "card", "aria-labelledby": "job-problems" }, h("h2", { id: "job-problems", text: t("job.problems") }), h("p", { class: "muted", text: t("job.problemsLater") }));
  root.append(box, errors);
  let shownProblems = false;
  for (;;) {
    let job;
    try {
      job = await api(`/scans/${encodeURIComponent(jobId)}`);
    } catch (error) {
      if (!ctx.isCurrent()) return;
      clear(box).append(errorBox(error, { retry: () => ctx.navigate(`scan/jobs/${encodeURIComponent(jobId)}`) }));
      box.removeAttribute("aria-busy");
      return;
    }
    if (!ctx.isCurrent()) return;
    const totals = job.totals;
    const finished = totals.done + totals.failed;
    box.removeAttribute("aria-busy");
    append(clear(box), [
      h("h2", {}, job.source, " ", h("span", { class: `pill job-${job.status}`, text: t(`jobStatus.${job.status}`) })),
      progressBar(job.progress),
      h("p", { class: "progress-text", text: t("job.progressText", { done: num(finished), total: num(totals.unique), percent: percent(job.progress) }) }),
      facts([
        [t("job.rows"), num(totals.rows)],
        [t("job.done"), num(totals.done)],
        [t("job.failed"), num(totals.failed)],
        [t("job.invalid"), num(totals.invalid)],
        [t("job.duplicates"), num(totals.duplicates)],
        [t("job.rate"), job.rate_per_second === null ? null : t("job.perSecond", { rate: num(job.rate_per_second, 1) })],
        [t("job.eta"), job.status === "done" ? t("job.finished") : job.eta_seconds === null ? null : duration(job.eta_seconds)],
        [t("job.started"), job.started_at ? dateTime(job.started_at) : null],
        [t("job.finishedAt"), job.finished_at ? dateTime(job.finished_at) : null],
      ]),
      job.status === "done" ? h("p", {}, h("a", { class: "btn btn-primary", href: "#/leads?sort=-priority", text: t("job.seeLeads") })) : null,
    ]);
    if ((job.status === "done" || totals.invalid > 0) && !shownProblems) {
      shownProblems = job.status === "done";
      try {
        const list = await problems(jobId);
        if (!ctx.isCurrent()) return;
        clear(errors).append(h("h2", { id: "job-problems", text: t("job.problems") }), list);
      } catch (error) {
        clear(errors).append(h("h2", { id: "job-problems", text: t("job.problems") }), h("p", { text: errorText(error) }));
      }
    }
    if (job.status === "done") return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!ctx.isCurrent()) return;
  }
}

export async function render(root, ctx) {
  if (ctx.parts[0] === "jobs" && ctx.parts[1]) {
    await jobView(root, ctx, ctx.parts[1]);
    return;
  }
  setTitle(t("nav.scan"));
  const jobs = h("section", { class: "card", "aria-labelledby": "scan-jobs" }, h("h2", { id: "scan-jobs", text: t("scan.recent") }), loading());
  root.append(h("h1", { text: t("nav.scan") }), h("div", { class: "grid-2" }, scanOne(), upload(ctx)), jobs);
  let data;
  try {
    data = await api("/scans?limit=10");
  } catch (error) {
    if (ctx.isCurrent()) jobs.lastChild.replaceWith(errorBox(error));
    return;
  }
  if (!ctx.isCurrent()) return;
  jobs.lastChild.replaceWith(recentJobs(data.items));
}

function recentJobs(items) {
  if (!items.length) return h("p", { class: "muted", text: t("scan.noJobs") });
  return dataTable({
    className: "jobs-table",
    headers: [t("scan.jobSource"), t("job.started"), t("job.status"), t("job.progress"), t("job.done"), t("job.failed"), t("job.invalid")],
    rows: items.map((job) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, h("a", { href: `#/scan/jobs/${encodeURIComponent(job.id)}`, text: job.source })),
        h("td", { class: "nowrap", text: dateTime(job.created_at) }),
        h("td", {}, h("span", { class: `pill job-${job.status}`, text: t(`jobStatus.${job.status}`) })),
        h("td", { class: "num", text: percent(job.progress) }),
        h("td", { class: "num", text: num(job.totals.done) }),
        h("td", { class: "num", text: num(job.totals.failed) }),
        h("td", { class: "num", text: num(job.totals.invalid) }),
      ),
    ),
  });
}
