// The lead screen's sales tools: the PDF report button and the company's likely role addresses.
// Hunter never sends mail to these addresses and never probes a mailbox: only the domain's DNS is read.

import { api, download } from "../api.js";
import { h } from "../dom.js";
import { getLang, t } from "../i18n.js";
import { dataTable, errorBox, loading, toast, errorText } from "../ui.js";

/** "PDF": downloads GET /leads/{domain}/report.pdf in the screen's language. */
export function reportButton(domain) {
  return h("button", {
    type: "button",
    class: "btn",
    "data-action": "report-pdf",
    text: t("lead.pdf"),
    title: t("lead.pdfHint"),
    onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      try {
        const lang = getLang();
        await download(`/leads/${encodeURIComponent(domain)}/report.pdf?lang=${lang}`, `hunter-${domain}.pdf`);
        toast(t("lead.pdfReady"), "success");
      } catch (error) {
        toast(errorText(error), "error");
      } finally {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    },
  });
}

/** "Call list PDF": the leads the list's filters match, in its order, one report section each (at most 50). */
export function callListButton(filters, sort) {
  return h("button", {
    type: "button",
    class: "btn",
    "data-action": "call-list-pdf",
    text: t("leads.callListPdf"),
    title: t("leads.callListPdfHint"),
    onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      try {
        const body = { ...filters, lang: getLang() };
        if (sort) body.sort = sort;
        const name = await download("/leads/report.pdf", "hunter-leads.pdf", { method: "POST", json: body });
        toast(t("leads.exported", { name }), "success");
      } catch (error) {
        toast(errorText(error), "error");
      } finally {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    },
  });
}

function deliverability(value) {
  if (value === true) return h("span", { class: "pill d365-synced", text: t("emails.deliverable") });
  if (value === false) return h("span", { class: "pill d365-failed", text: t("emails.notDeliverable") });
  return h("span", { class: "pill d365-not_synced", text: t("emails.unknown") });
}

function copyButton(address) {
  return h("button", {
    type: "button",
    class: "btn btn-small",
    "data-copy": address,
    "aria-label": t("emails.copyOne", { address }),
    text: t("emails.copy"),
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(address);
        toast(t("emails.copied", { address }), "success");
      } catch {
        toast(t("lead.copyFailed"), "error");
      }
    },
  });
}

/** The card listing GET /leads/{domain}/emails: ranked role addresses, each with a copy button. */
export function emailsSection(domain) {
  const id = "s-lead-emails";
  const body = h("div", { class: "emails-body", "aria-busy": "true" }, loading());
  const card = h(
    "section",
    { class: "card", "aria-labelledby": id, "data-section": "emails" },
    h("h2", { id, text: t("emails.title") }),
    h("p", { class: "small muted", text: t("emails.note") }),
    body,
  );
  (async () => {
    try {
      const result = await api(`/leads/${encodeURIComponent(domain)}/emails`);
      const turkish = getLang() === "tr";
      body.replaceChildren(
        h("p", {}, deliverability(result.deliverable), " ", h("span", { class: "small", text: t(`emails.reason.${result.reason}`, {}, result.detail) })),
        dataTable({
          className: "emails-table",
          caption: t("emails.title"),
          headers: ["#", t("emails.address"), t("emails.role"), h("th", { scope: "col" }, h("span", { class: "sr-only", text: t("emails.copy") }))],
          rows: result.addresses.map((item) =>
            h(
              "tr",
              {},
              h("td", { class: "num", text: String(item.rank) }),
              h("td", {}, h("code", { text: item.email }), item.email_unicode ? h("span", { class: "small muted", text: ` (${item.email_unicode})` }) : null),
              h("td", { text: turkish ? item.note_tr : item.note_en }),
              h("td", {}, copyButton(item.email)),
            ),
          ),
        }),
        h("button", {
          type: "button",
          class: "btn",
          text: t("emails.copyAll"),
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(result.addresses.map((item) => item.email).join("\n"));
              toast(t("lead.copied"), "success");
            } catch {
              toast(t("lead.copyFailed"), "error");
            }
          },
        }),
      );
    } catch (error) {
      body.replaceChildren(errorBox(error));
    } finally {
      body.removeAttribute("aria-busy");
    }
  })();
  return card;
}
