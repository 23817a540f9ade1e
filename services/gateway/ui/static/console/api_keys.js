// Admin > API keys: the org's live keys (prefix, scope, created), create of a scope, rotate, revoke.
// A new key's secret is shown once, in the page only: never in storage, a URL or a log.

import { del, get, post } from "./api.js";
import { h, notify, show, table, when } from "./dom.js";

function secretPanel(created, note) {
  const value = h("input", { id: "new-secret-value", type: "text", readonly: true, value: created.secret,
    autocomplete: "off", spellcheck: "false", size: 52, "aria-label": "The new key" });
  const panel = h("div", { id: "new-secret", class: "secret", role: "status",
    dataset: { keyId: created.key.id, scope: created.key.scope } },
  h("p", {}, h("strong", {}, `New ${created.key.scope} key `), `${created.key.prefix}…: copy it now, it is shown once.`),
  value,
  " ",
  h("button", { type: "button", id: "copy-secret", onclick: async () => {
    try {
      await navigator.clipboard.writeText(value.value);
      notify("Copied to the clipboard");
    } catch {
      value.select();  // no clipboard access (plain http): selected, for Ctrl+C
      notify("Press Ctrl+C to copy the selected key");
    }
  } }, "Copy"),
  " ",
  h("button", { type: "button", id: "dismiss-secret", onclick: () => panel.remove() }, "Done"),
  note ? h("p", { class: "muted" }, note) : null);
  return panel;
}

// A second step in the page instead of window.confirm: the row asks, then acts.
function confirming(cell, question, label, act) {
  const before = [...cell.childNodes];
  cell.replaceChildren(h("span", {}, question, " "),
    h("button", { type: "button", class: "danger", dataset: { confirm: label }, onclick: act }, label),
    " ",
    h("button", { type: "button", onclick: () => cell.replaceChildren(...before) }, "Cancel"));
}

export async function apiKeysPage() {
  const secretSlot = h("div", { id: "secret-slot" });
  const listSlot = h("div", { id: "keys-list" });
  const scope = h("select", { id: "new-key-scope" },
    h("option", { value: "read" }, "read: every read, no change (dashboards)"),
    h("option", { value: "admin" }, "admin: everything"));

  async function refresh() {
    const keys = await get("/api/keys");
    const rows = keys.map((key) => {
      const actions = h("td", { class: "key-actions" });
      const rotate = h("button", { type: "button", dataset: { action: "rotate" }, changes: true, onclick: () => confirming(actions,
        key.inUse ? "Rotate the key of this session? It stops working now; sign in again with the new one."
          : "Rotate? The old key stops working now.", "Confirm rotate", async () => {
          try {
            const created = await post(`/api/keys/${key.id}/rotate`);
            secretSlot.replaceChildren(secretPanel(created,
              key.inUse ? "This session was opened with the rotated key: sign in again with the new one." : null));
            if (!key.inUse) await refresh();
            else listSlot.replaceChildren();
          } catch (failure) {
            notify(failure.message, "error");
          }
        }) }, "Rotate");
      const revoke = h("button", { type: "button", class: "danger", dataset: { action: "revoke" }, changes: true,
        disabled: key.inUse, title: key.inUse ? "The key of this session: revoke it from another session" : null,
        onclick: () => confirming(actions, `Revoke ${key.prefix}…?`, "Confirm revoke", async () => {
          try {
            await del(`/api/keys/${key.id}`);
            notify(`Revoked ${key.prefix}…`);
            if (secretSlot.querySelector(`[data-key-id="${key.id}"]`)) secretSlot.replaceChildren();
            await refresh();
          } catch (failure) {
            notify(failure.message, "error");
            await refresh();
          }
        }) }, "Revoke");
      actions.append(rotate, " ", revoke);
      return h("tr", { dataset: { keyId: key.id, scope: key.scope, inUse: String(key.inUse) } },
        h("td", {}, h("code", {}, `${key.prefix}…`)),
        h("td", {}, key.scope),
        h("td", {}, when(key.createdAt)),
        h("td", {}, key.inUse ? "this session" : ""),
        actions);
    });
    listSlot.replaceChildren(keys.length
      ? table("The org's live keys", ["Key", "Scope", "Created", "In use", ""], rows)
      : h("p", { class: "muted" }, "No live keys."));
  }

  const form = h("form", { id: "new-key-form", method: "post", novalidate: true, changes: true, onsubmit: async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      secretSlot.replaceChildren(secretPanel(await post("/api/keys", { scope: scope.value })));
      await refresh();
    } catch (failure) {
      notify(failure.message, "error");
    } finally {
      button.disabled = false;
    }
  } },
  h("div", { class: "field" }, h("label", { for: "new-key-scope" }, "Scope of a new key"), scope),
  h("button", { type: "submit", id: "create-key" }, "Create key"));

  show(h("h1", {}, "Admin › API keys"),
    h("p", { class: "muted" }, "Only a digest of each key is stored; the last admin key cannot be revoked."),
    form, secretSlot, listSlot);
  await refresh();
}
