// Small DOM helpers: elements built with textContent only (no HTML strings), tables, notices, times.

import { readOnly } from "./api.js";

export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "changes") {
      // A control that changes state: marked, and hidden and disabled in a read-only session.
      element.dataset.changes = "true";
      if (readOnly()) {
        element.hidden = true;
        element.disabled = true;
      }
    } else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "value") {
      element.value = value;
    } else if (name === "checked") {
      element.checked = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function table(caption, headers, rows) {
  return h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

export function statusBadge(status) {
  return h("span", { class: "status", dataset: { status: status || "none" } }, status || "never run");
}

let noticeTimer = 0;

export function notify(text, kind = "info") {
  const region = document.getElementById("notice");
  region.replaceChildren(h("p", { class: kind, role: kind === "error" ? "alert" : null }, text));
  window.clearTimeout(noticeTimer);
  noticeTimer = window.setTimeout(() => region.replaceChildren(), 8000);
}

export function show(...children) {
  const main = document.getElementById("main");
  main.replaceChildren(...children);
  return main;
}

// A problem document's `errors[]` shown beside the fields they name; the rest as one message.
export function showFieldErrors(form, error) {
  form.querySelectorAll(".field-error").forEach((slot) => { slot.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
  const unplaced = [];
  for (const item of (error && error.errors) || []) {
    const field = String(item.field || "").replace(/^body\./, "");
    const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`)
      || form.querySelector(`[data-error-for="${CSS.escape(field.split(".").slice(0, 2).join("."))}"]`);
    if (slot) {
      slot.textContent = item.message;
      const input = document.getElementById(slot.dataset.inputId || "");
      if (input) input.setAttribute("aria-invalid", "true");
    } else {
      unplaced.push(`${field}: ${item.message}`);
    }
  }
  const summary = form.querySelector(".form-error");
  if (summary) {
    summary.textContent = unplaced.length ? unplaced.join("; ") : (error && !error.errors?.length ? error.message : "");
  }
}
