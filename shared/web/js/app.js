// The shell: sign-in, navigation, language toggle and the hash router (#/leads?priority=P1, #/leads/acme.com.tr, ...).

import { api, session } from "./api.js";
import { clear, h } from "./dom.js";
import { getLang, setLang, t } from "./i18n.js";
import { errorText, setTitle } from "./ui.js";

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");

const state = { me: null, signInMessage: null, renderId: 0 };

const SCREENS = [
  { id: "leads", label: "nav.leads", scope: "read", load: () => import("./views/leads.js") },
  { id: "scan", label: "nav.scan", scope: "scan", load: () => import("./views/scan.js") },
  { id: "dashboard", label: "nav.dashboard", scope: "read", load: () => import("./views/dashboard.js") },
  { id: "referrals", label: "nav.referrals", scope: "read", load: () => import("./views/referrals.js") },
  { id: "notifications", label: "nav.notifications", scope: "admin", load: () => import("./views/notifications.js") },
  { id: "ops", label: "nav.ops", scope: "admin", load: () => import("./views/ops.js") },
];

export function can(scope) {
  return Boolean(state.me && state.me.scopes.includes(scope));
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [pathPart, queryPart = ""] = raw.split("?");
  const parts = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(queryPart) };
}

export function navigate(path, query) {
  const search = query ? new URLSearchParams(query).toString() : "";
  const target = `#/${path}${search ? `?${search}` : ""}`;
  if (location.hash === target) render();
  else location.hash = target;
}

/** Change the URL's query without a new render (the screen already shows it). */
export function replaceQuery(path, query) {
  const search = new URLSearchParams(query).toString();
  history.replaceState(null, "", `#/${path}${search ? `?${search}` : ""}`);
}

function renderTopbar(active) {
  clear(topbar);
  topbar.hidden = false;
  const nav = h(
    "nav",
    { class: "nav", "aria-label": t("nav.label") },
    SCREENS.filter((s) => can(s.scope)).map((s) =>
      h("a", { href: `#/${s.id}`, class: "nav-link", "aria-current": s.id === active ? "page" : null, text: t(s.label) }),
    ),
  );
  const other = getLang() === "tr" ? "en" : "tr";
  topbar.append(
    h("a", { class: "brand", href: "#/leads" }, h("img", { src: "/api/ui/favicon.svg", alt: "", width: 24, height: 24 }), "Hunter"),
    nav,
    h(
      "div",
      { class: "who" },
      h("span", { class: "key-name", title: t("shell.scopes", { scopes: state.me.scopes.join(", ") }) }, state.me.name),
      h("button", {
        type: "button",
        class: "btn btn-ghost",
        lang: other,
        "aria-label": t("shell.switchLanguage"),
        text: other === "en" ? "English" : "Türkçe",
        onclick: () => {
          setLang(other);
          render();
        },
      }),
      h("button", { type: "button", class: "btn btn-ghost", text: t("shell.signOut"), onclick: signOut }),
    ),
  );
}

function signOut() {
  session.signOut();
  state.me = null;
  state.signInMessage = { kind: "info", text: t("signin.signedOut") };
  render();
}

function renderSignIn() {
  topbar.hidden = true;
  clear(topbar);
  setTitle(t("signin.title"));
  const other = getLang() === "tr" ? "en" : "tr";
  const message = state.signInMessage;
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
  const input = h("input", {
    id: "api_key",
    name: "api_key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "api_key_help",
  });
  const button = h("button", { type: "submit", class: "btn btn-primary", text: t("signin.submit") });
  const form = h(
    "form",
    { class: "signin card", novalidate: true },
    h("h1", {}, h("img", { src: "/api/ui/favicon.svg", alt: "", width: 32, height: 32 }), "Hunter"),
    h("p", { class: "lead-text", text: t("signin.intro") }),
    message ? h("div", { class: `alert alert-${message.kind}`, role: "alert", text: message.text }) : null,
    h("label", { for: "api_key", text: t("signin.label") }),
    input,
    h("p", { id: "api_key_help", class: "help", text: t("signin.help") }),
    button,
    status,
    h("p", {}, h("button", {
      type: "button",
      class: "btn btn-link",
      lang: other,
      text: other === "en" ? "English" : "Türkçe",
      onclick: () => {
        setLang(other);
        renderSignIn();
      },
    })),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      status.textContent = t("signin.empty");
      input.focus();
      return;
    }
    button.disabled = true;
    status.textContent = t("signin.checking");
    try {
      const me = await api("/me", { key });
      session.signIn(key);
      state.me = me;
      state.signInMessage = null;
      render();
    } catch (error) {
      button.disabled = false;
      status.textContent = "";
      state.signInMessage = { kind: "error", text: error.status === 401 ? t("signin.rejected") : errorText(error) };
      renderSignIn();
    }
  });
  clear(main).append(form);
  input.focus();
}

async function render() {
  const renderId = ++state.renderId;
  document.documentElement.lang = getLang();
  if (!session.key) {
    renderSignIn();
    return;
  }
  if (!state.me) {
    try {
      state.me = await api("/me");
    } catch (error) {
      if (error.status !== 401) {
        clear(main).append(h("div", { class: "alert alert-error", role: "alert", text: errorText(error) }));
      }
      return; // a 401 has already returned to the sign-in form
    }
  }
  const { parts, query } = parseHash();
  const screen = SCREENS.find((s) => s.id === parts[0]) || SCREENS[0];
  renderTopbar(screen.id);
  const view = clear(main);
  if (!can(screen.scope)) {
    view.append(h("div", { class: "alert alert-error", role: "alert", text: t("error.forbidden", { scope: t(`scope.${screen.scope}`) }) }));
    return;
  }
  const module = screen.id === "leads" && parts[1] ? await import("./views/lead.js") : await screen.load();
  if (renderId !== state.renderId) return;
  await module.render(view, {
    parts: parts.slice(1),
    query,
    me: state.me,
    can,
    navigate,
    replaceQuery,
    isCurrent: () => renderId === state.renderId,
  });
}

window.addEventListener("hunter:unauthorized", () => {
  session.signOut();
  state.me = null;
  state.signInMessage = { kind: "error", text: t("signin.expired") };
  render();
});
let lastScreen = null;
window.addEventListener("hashchange", () => {
  render();
  const { parts } = parseHash();
  const screen = parts.slice(0, 2).join("/");
  if (screen !== lastScreen) main.focus({ preventScroll: true }); // a new screen: start reading at its top
  lastScreen = screen;
});
render();
