// Admin > Output Templates: list, create, edit, activate/deactivate, delete, and a live preview over real topics.

import { del, get, post, put } from "./api.js";
import { h, notify, show, showFieldErrors, table } from "./dom.js";

const FIELDS = [
  ["pathFields", "Path fields (comma separated: path, parent_category, name, attributes.<key>…)", "path, name"],
  ["separator", "Separator", " > "],
  ["nameTemplate", "Name template ({{field}} placeholders; empty: path fields joined)", ""],
  ["descriptionTemplate", "Description template", "{{description}}"],
];

function field([name, label, placeholder], value) {
  const id = `template-${name}`;
  const input = name === "descriptionTemplate" || name === "nameTemplate"
    ? h("textarea", { id, rows: 2, placeholder, value: value ?? "" })
    : h("input", { id, placeholder, value: value ?? "" });
  return h("div", { class: "field" }, h("label", { for: id }, label), input,
    h("p", { id: `${id}-error`, class: "field-error", role: "alert", dataset: { errorFor: name, inputId: id } }));
}

function draftOf(form) {
  const value = (name) => form.querySelector(`#template-${name}`).value;
  const draft = {
    pathFields: value("pathFields").split(",").map((part) => part.trim()).filter(Boolean),
    separator: value("separator") || " > ",
    nameTemplate: value("nameTemplate").trim() ? value("nameTemplate") : null,
    descriptionTemplate: value("descriptionTemplate") || "{{description}}",
  };
  return draft;
}

// `template.pathFields` (preview) and `pathFields` (save) name the same input.
function unprefixed(failure) {
  return { message: failure.message, errors: (failure.errors || []).map((error) => ({ ...error,
    field: String(error.field).replace(/^body\./, "").replace(/^template\./, "") })) };
}

async function editor(stored) {
  const preview = h("tbody", { id: "preview-rows" });
  const form = h("form", { id: "template-form", method: "post", novalidate: true },
    stored ? null : h("div", { class: "field" }, h("label", { for: "template-key" }, "Key"),
      h("input", { id: "template-key", required: true, pattern: "[a-z0-9_][a-z0-9_\\-]{0,62}" }),
      h("p", { class: "field-error", role: "alert", dataset: { errorFor: "key", inputId: "template-key" } })),
    FIELDS.map((spec) => field(spec, stored ? (spec[0] === "pathFields" ? stored.pathFields.join(", ") : stored[spec[0]]) : undefined)),
    h("div", { class: "field" }, h("label", {}, h("input", { type: "checkbox", id: "template-active", checked: stored ? stored.active : true }), " Active")),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit", id: "save-template" }, stored ? "Save template" : "Create Template"));
  let timer = 0;
  let asked = 0;
  async function refresh() {
    const ticket = ++asked;
    try {
      const page = await post("/api/output-template-previews", { template: draftOf(form), limit: 5 });
      if (ticket !== asked) return;
      showFieldErrors(form, null);
      preview.replaceChildren(...(page.items.length ? page.items.map((item) => h("tr", {}, h("td", {}, item.name), h("td", {}, item.description)))
        : [h("tr", {}, h("td", { colspan: 2, class: "muted" }, "The org has no topics to preview yet."))]));
    } catch (failure) {
      if (ticket === asked) showFieldErrors(form, unprefixed(failure));
    }
  }
  form.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { ...draftOf(form), active: form.querySelector("#template-active").checked };
    try {
      if (stored) await put(`/api/output-templates/${encodeURIComponent(stored.key)}`, body);
      else await post("/api/output-templates", { key: form.querySelector("#template-key").value.trim(), ...body });
      notify("Template saved");
      await templatesPage();
    } catch (failure) {
      showFieldErrors(form, unprefixed(failure));
    }
  });
  const section = h("section", { class: "editor", "aria-labelledby": "editor-title" },
    h("h2", { id: "editor-title" }, stored ? `Edit ${stored.key}` : "Create Template"), form,
    h("table", { class: "preview" }, h("caption", {}, "Live preview over the org's first topics"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Segment name"), h("th", { scope: "col" }, "Description"))), preview));
  await refresh();
  return section;
}

// The 409 names the connections by id; say their names.
async function inUseMessage(key, detail) {
  const names = (await get("/api/connections")).filter((connection) => detail.includes(connection.id))
    .map((connection) => connection.name);
  return names.length ? `${key} is used by ${names.join(", ")}: point them at another template first` : detail;
}

function row(template, slot) {
  const key = encodeURIComponent(template.key);
  const act = (work) => async () => {
    try {
      await work();
      await templatesPage();
    } catch (failure) {
      notify(failure.message, "error");
    }
  };
  return h("tr", { dataset: { key: template.key, active: String(template.active) } },
    h("td", {}, template.key), h("td", {}, template.active ? "active" : "inactive"),
    h("td", {}, template.nameTemplate || template.pathFields.join(template.separator)),
    h("td", {}, h("div", { class: "actions" },
      h("button", { type: "button", class: "edit", changes: true, onclick: async () => slot.replaceChildren(await editor(template)) }, "Edit"),
      h("button", { type: "button", class: "toggle", changes: true, onclick: act(() => post(`/api/output-templates/${key}/${template.active ? "deactivate" : "activate"}`)) },
        template.active ? "Deactivate" : "Activate"),
      h("button", { type: "button", class: "danger", changes: true, onclick: act(async () => {
        if (!window.confirm(`Delete the output template ${template.key}?`)) return;
        try {
          await del(`/api/output-templates/${key}`);
        } catch (failure) {
          throw failure.status === 409 ? new Error(await inUseMessage(template.key, failure.message)) : failure;
        }
      }) }, "Delete"))));
}

export async function templatesPage() {
  const templates = await get("/api/output-templates");
  const slot = h("div", { id: "template-editor" });
  show(
    h("h1", {}, "Admin › Output Templates"),
    h("p", {}, h("button", { type: "button", id: "create-template", changes: true, onclick: async () => slot.replaceChildren(await editor(null)) }, "Create Template")),
    templates.length
      ? table("The org's output templates", ["Key", "State", "Name from", "Actions"], templates.map((template) => row(template, slot)))
      : h("p", { class: "muted" }, "No output templates yet."),
    slot,
  );
}
