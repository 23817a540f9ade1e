// Create or edit a connection: a form per platform and direction, generated from the API's own models;
// credentials are write-only (shown as "set", replaced by typing new ones).

import { get, post, put } from "./api.js";
import { h, notify, show, showFieldErrors } from "./dom.js";
import { schemaFields, sectionValues } from "./schema_fields.js";

const DIRECTIONS = ["outbound", "inbound", "bidirectional"];
let cachedSchemas = null;

async function schemas() {
  cachedSchemas = cachedSchemas || await get("/api/connection-schemas");
  return cachedSchemas;
}

function configSchemas(all, platform, direction) {
  const parts = [];
  if (direction !== "inbound") parts.push(all.outbound[platform].config);
  if (direction !== "outbound") parts.push(all.inbound.config);
  return parts;
}

function credentialModels(all, platform, direction) {
  return direction === "inbound" ? all.inbound.credentials : all.outbound[platform].credentials;
}

function select(id, label, choices, value) {
  return h("div", { class: "field" }, h("label", { for: id }, label),
    h("select", { id, name: id }, choices.map((choice) => h("option", { value: choice, selected: choice === value }, choice))),
    h("p", { class: "field-error", role: "alert", dataset: { errorFor: id, inputId: id } }));
}

function credentialsFields(models, authType, connection) {
  const model = models[authType];
  if (!model || authType === "none") return [h("p", { class: "muted" }, "No credentials for this auth type.")];
  const placeholder = connection && connection.hasCredentials ? "set — type to replace" : "";
  if (!model.properties) {
    // `header`: any header names; a JSON object of name → value.
    return schemaFields("authCredentials", [{ properties: { headers: { title: "Headers (JSON object)" } } }], null,
      { placeholder });
  }
  return schemaFields("authCredentials", [model], null, { placeholder });
}

function credentialsValues(form, authType, models) {
  const values = sectionValues(form, "authCredentials");
  if (!models[authType]?.properties) return values.headers;
  return Object.keys(values).length ? values : undefined;
}

export async function connectionEditor(id) {
  const all = await schemas();
  const connection = id ? await get(`/api/connections/${id}`) : null;
  const state = {
    platform: connection ? connection.platform : "custom_api",
    direction: connection ? connection.direction : "outbound",
    authType: connection ? connection.authType : "none",
  };
  const dynamic = h("div", { id: "dynamic-fields" });
  const form = h("form", { id: "connection-form", method: "post", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "name" }, "Name"),
      h("input", { id: "name", name: "name", required: true, value: connection ? connection.name : "" }),
      h("p", { class: "field-error", role: "alert", dataset: { errorFor: "name", inputId: "name" } })),
    select("platform", "Platform", Object.keys(all.outbound), state.platform),
    select("direction", "Direction", DIRECTIONS, state.direction),
    dynamic,
    h("div", { class: "field" }, h("label", {},
      h("input", { type: "checkbox", id: "enabled", checked: connection ? connection.enabled : true }), " Enabled")),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit", id: "save" }, connection ? "Save" : "Create connection"));

  function render() {
    const models = credentialModels(all, state.platform, state.direction);
    if (!models[state.authType]) state.authType = Object.keys(models)[0];
    const previous = connection && connection.platform === state.platform ? connection.config : null;
    let typed = null;
    try {
      typed = dynamic.childElementCount ? sectionValues(form, "config") : null;
    } catch {
      typed = null;
    }
    dynamic.replaceChildren(
      select("authType", "Auth type", Object.keys(models), state.authType),
      h("fieldset", {}, h("legend", {}, "Config"), schemaFields("config", configSchemas(all, state.platform, state.direction), typed || previous)),
      h("fieldset", {}, h("legend", {}, "Credentials (write-only)"), credentialsFields(models, state.authType, connection)));
    dynamic.querySelector("#authType").addEventListener("change", (event) => { state.authType = event.target.value; render(); });
  }
  form.querySelector("#platform").addEventListener("change", (event) => { state.platform = event.target.value; render(); });
  form.querySelector("#direction").addEventListener("change", (event) => { state.direction = event.target.value; render(); });
  render();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const models = credentialModels(all, state.platform, state.direction);
    let body;
    try {
      body = {
        name: form.querySelector("#name").value.trim(),
        platform: state.platform,
        direction: state.direction,
        authType: state.authType,
        config: sectionValues(form, "config"),
        enabled: form.querySelector("#enabled").checked,
      };
      const credentials = credentialsValues(form, state.authType, models);
      if (credentials !== undefined) body.authCredentials = credentials;
    } catch (invalid) {
      showFieldErrors(form, invalid);
      return;
    }
    const button = form.querySelector("#save");
    button.disabled = true;
    try {
      const saved = connection ? await put(`/api/connections/${connection.id}`, body) : await post("/api/connections", body);
      notify(connection ? "Saved" : `Created ${saved.name}`);
      window.location.hash = `#/connections/${saved.id}`;
    } catch (failure) {
      showFieldErrors(form, failure);
      form.dataset.invalid = "true";
    } finally {
      button.disabled = false;
    }
  });
  show(h("p", {}, h("a", { href: connection ? `#/connections/${connection.id}` : "#/connections" }, "‹ Back")),
    h("h1", {}, connection ? `Edit ${connection.name}` : "New connection"), form);
}
