// The console's shell: sign-in and sign-out, the navigation, and the hash routes of its pages.

import { api, get, readOnly, useSession } from "./api.js";
import { apiKeysPage } from "./api_keys.js";
import { h, notify, show } from "./dom.js";
import { connectionDetail, connectionsPage } from "./connections.js";
import { connectionEditor } from "./connection_form.js";
import { deadLettersPage } from "./dead_letters.js";
import { runDetail, runsPage } from "./runs.js";
import { templatesPage } from "./templates.js";
import { topicsPage } from "./topics.js";

const body = document.body;
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
const readOnlyBadge = document.getElementById("read-only");

// The editor is a page of its own: a read-only session is told so instead of given a form it cannot save.
function editor(id) {
  if (!readOnly()) return connectionEditor(id);
  show(h("h1", {}, id ? "Edit connection" : "New connection"),
    h("p", { id: "read-only-page", class: "muted" }, "This session was opened with a read key: it can look, not change."));
  return null;
}

const routes = [
  [/^#\/connections\/new$/, () => editor(null)],
  [/^#\/connections\/([^/]+)\/edit$/, (id) => editor(id)],
  [/^#\/connections\/([^/]+)$/, (id) => connectionDetail(id)],
  [/^#\/runs\/([^/]+)$/, (id) => runDetail(id)],
  [/^#\/runs$/, () => runsPage()],
  [/^#\/templates$/, () => templatesPage()],
  [/^#\/topics$/, () => topicsPage()],
  [/^#\/keys$/, () => apiKeysPage()],
  [/^#\/dead-letters$/, () => deadLettersPage()],
  [/^#?\/?(connections)?$/, () => connectionsPage()],
];

function signedOut() {
  useSession(null);
  body.dataset.state = "signed-out";
  delete body.dataset.scope;
  readOnlyBadge.hidden = true;
  nav.hidden = true;
  signOutButton.hidden = true;
  const form = document.getElementById("sign-in-template").content.cloneNode(true);
  show(form);
  document.getElementById("sign-in-form").addEventListener("submit", signIn);
  document.getElementById("api-key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = document.getElementById("api-key");
  const error = document.getElementById("api-key-error");
  error.textContent = "";
  try {
    const session = await api("POST", "/api/session", { apiKey: input.value });
    input.value = "";
    signedIn(session);
  } catch (failure) {
    error.textContent = failure.status === 401 ? "That key is unknown or revoked." : failure.message;
    input.setAttribute("aria-invalid", "true");
  }
}

function signedIn(session) {
  useSession(session, signedOut);
  body.dataset.state = "signed-in";
  body.dataset.scope = session.scope;
  readOnlyBadge.hidden = !readOnly();
  nav.hidden = false;
  signOutButton.hidden = false;
  route();
}

async function signOut() {
  try {
    await api("DELETE", "/api/session");
  } catch (failure) {
    notify(`Sign-out failed: ${failure.message}`, "error");
    return;
  }
  window.location.hash = "";
  signedOut();
}

// Pages render one after another, so a slow earlier page never paints over the one asked for last.
let routing = Promise.resolve();

function route() {
  routing = routing.then(renderRoute, renderRoute);
  return routing;
}

async function renderRoute() {
  if (body.dataset.state !== "signed-in") return;
  const hash = window.location.hash || "#/connections";
  for (const link of nav.querySelectorAll("a")) {
    const current = hash.startsWith(link.getAttribute("href"));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const [pattern, page] of routes) {
    const match = hash.match(pattern);
    if (match) {
      body.dataset.page = hash.split("/")[1] || "connections";
      try {
        await page(...match.slice(1).map(decodeURIComponent));
      } catch (failure) {
        if (failure.status !== 401) show(h("p", { class: "error", role: "alert" }, failure.message));
      }
      document.getElementById("main").focus({ preventScroll: true });
      return;
    }
  }
  show(h("p", {}, "No such page."));
}

signOutButton.addEventListener("click", signOut);
window.addEventListener("hashchange", route);

get("/api/session").then(signedIn, signedOut);
