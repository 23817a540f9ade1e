// Form fields generated from a JSON schema (the pydantic models the API validates with), and their values.

import { h } from "./dom.js";

function resolve(schema, root) {
  let property = schema;
  if (property.$ref) property = root.$defs[property.$ref.split("/").pop()];
  if (property.anyOf) {
    const options = property.anyOf.filter((option) => option.type !== "null");
    const nullable = options.length < property.anyOf.length;
    return { ...resolve(options[0] || {}, root), nullable, default: schema.default, title: schema.title };
  }
  return { ...property, default: schema.default ?? property.default, title: schema.title || property.title };
}

function kindOf(property) {
  if (property.enum) return "enum";
  if (property.type === "boolean") return "boolean";
  if (property.type === "number" || property.type === "integer") return "number";
  if (property.type === "string") return property.writeOnly || property.format === "password" ? "secret" : "text";
  return "json";
}

// One labelled input per property; `section` is the wire name of the part ("config", "authCredentials").
export function schemaFields(section, schemas, values, options = {}) {
  const properties = {};
  const required = new Set();
  for (const root of schemas) {
    for (const [name, property] of Object.entries(root.properties || {})) {
      properties[name] = properties[name] || resolve(property, root);
    }
    (root.required || []).forEach((name) => required.add(name));
  }
  return Object.entries(properties).map(([name, property]) => {
    const id = `${section}-${name}`;
    const kind = kindOf(property);
    const value = values ? values[name] : undefined;
    const hint = property.default !== undefined && property.default !== null ? `default: ${JSON.stringify(property.default)}` : "";
    const common = { id, name, dataset: { section, kind, field: name }, "aria-describedby": `${id}-error ${id}-hint` };
    let input;
    if (kind === "enum") {
      input = h("select", common, !required.has(name) ? h("option", { value: "" }, "(default)") : null,
        property.enum.map((choice) => h("option", { value: choice, selected: value === choice }, choice)));
    } else if (kind === "boolean") {
      input = h("input", { ...common, type: "checkbox", checked: value ?? property.default });
    } else if (kind === "json") {
      input = h("textarea", { ...common, rows: 4, spellcheck: "false",
        value: value === undefined ? "" : JSON.stringify(value, null, 2) });
    } else {
      input = h("input", { ...common, type: kind === "secret" ? "password" : kind === "number" ? "text" : "text",
        inputmode: kind === "number" ? "decimal" : null, autocomplete: "off",
        placeholder: options.placeholder || (property.default ?? ""), value: value ?? "" });
    }
    return h("div", { class: "field" },
      h("label", { for: id }, property.title || name, required.has(name) ? h("span", { "aria-hidden": "true" }, " *") : null),
      input,
      h("small", { id: `${id}-hint`, class: "muted" }, [kind === "json" ? "JSON" : "", hint].filter(Boolean).join(" · ")),
      h("p", { id: `${id}-error`, class: "field-error", role: "alert", dataset: { errorFor: `${section}.${name}`, inputId: id } }));
  });
}

// The values typed in one section; empty inputs are left out (the model's default applies).
// Throws {errors: [...]} in the API's shape when a JSON field does not parse.
export function sectionValues(form, section) {
  const values = {};
  const errors = [];
  for (const input of form.querySelectorAll(`[data-section="${section}"]`)) {
    const name = input.dataset.field;
    const kind = input.dataset.kind;
    if (kind === "boolean") {
      values[name] = input.checked;
      continue;
    }
    const text = input.value.trim();
    if (text === "") continue;
    if (kind === "number") {
      values[name] = Number.isFinite(Number(text)) ? Number(text) : text;
    } else if (kind === "json") {
      try {
        values[name] = JSON.parse(text);
      } catch (failure) {
        errors.push({ field: `${section}.${name}`, message: `not valid JSON: ${failure.message}` });
      }
    } else {
      values[name] = text;
    }
  }
  if (errors.length) throw { errors, message: "Some fields are not valid JSON" };
  return values;
}
