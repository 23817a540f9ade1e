// A connection's schedules: push and/or sync, every N minutes or a cron expression read in a time zone,
// each with its next slot; saved with PUT and removed with DELETE /api/connections/{id}/schedules/{kind}.

import { del, get, put } from "./api.js";
import { h, notify, showFieldErrors, when } from "./dom.js";

const KINDS = [["push", ["outbound", "bidirectional"]], ["sync", ["inbound", "bidirectional"]]];
const LOCAL_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

function cadence(schedule) {
  if (!schedule) return "No schedule.";
  const every = schedule.everyMinutes
    ? `Every ${schedule.everyMinutes} minute${schedule.everyMinutes === 1 ? "" : "s"}`
    : `Cron ${schedule.cron} (${schedule.timeZone})`;
  const next = schedule.enabled ? `next ${when(schedule.nextRunAt)}` : "paused";
  return `${every} · ${next}${schedule.lastError ? ` · last slot: ${schedule.lastError}` : ""}`;
}

function field(id, label, input, errorFor) {
  return h("div", { class: "field" }, h("label", { for: id }, label), input,
    h("p", { id: `${id}-error`, class: "field-error", role: "alert", dataset: { errorFor, inputId: id } }));
}

function scheduleForm(connectionId, kind, schedule, redraw) {
  const id = (name) => `schedule-${kind}-${name}`;
  const mode = h("select", { id: id("mode") },
    h("option", { value: "every", selected: !schedule || Boolean(schedule.everyMinutes) }, "every N minutes"),
    h("option", { value: "cron", selected: Boolean(schedule && schedule.cron) }, "cron expression"));
  const minutes = h("input", { id: id("everyMinutes"), inputmode: "numeric", size: 6,
    value: schedule && schedule.everyMinutes ? String(schedule.everyMinutes) : "60" });
  const cron = h("input", { id: id("cron"), size: 24, spellcheck: "false", placeholder: "minute hour day month weekday",
    value: schedule && schedule.cron ? schedule.cron : "" });
  const zone = h("input", { id: id("timeZone"), size: 24, spellcheck: "false",
    value: schedule ? schedule.timeZone : LOCAL_ZONE });
  const enabled = h("input", { type: "checkbox", id: id("enabled"), checked: schedule ? schedule.enabled : true });
  const minutesField = field(id("everyMinutes"), "Minutes between runs", minutes, "everyMinutes");
  const cronFields = [field(id("cron"), "Cron (minute hour day-of-month month day-of-week)", cron, "cron"),
    field(id("timeZone"), "Time zone (IANA, e.g. Europe/Berlin)", zone, "timeZone")];
  const showMode = () => {
    minutesField.hidden = mode.value !== "every";
    cronFields.forEach((part) => { part.hidden = mode.value !== "cron"; });
  };
  mode.addEventListener("change", showMode);
  const form = h("form", { id: id("form"), class: "schedule-form", method: "post", novalidate: true, changes: true },
    field(id("mode"), "Runs", mode, "mode"), minutesField, cronFields,
    h("div", { class: "field" }, h("label", {}, enabled, " Enabled")),
    h("p", { class: "form-error", role: "alert" }),
    h("div", { class: "actions" },
      h("button", { type: "submit", id: id("save") }, schedule ? "Save schedule" : "Add schedule"),
      schedule && h("button", { type: "button", id: id("remove"), class: "danger", onclick: async () => {
        try {
          await del(`/api/connections/${connectionId}/schedules/${kind}`);
          notify(`The ${kind} schedule was removed`);
          await redraw();
        } catch (failure) {
          notify(failure.message, "error");
        }
      } }, "Remove")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = mode.value === "cron"
      ? { cron: cron.value.trim(), timeZone: zone.value.trim() || "UTC", enabled: enabled.checked }
      : { everyMinutes: Number(minutes.value.trim()) || minutes.value.trim(), enabled: enabled.checked };
    try {
      await put(`/api/connections/${connectionId}/schedules/${kind}`, body);
      notify(`The ${kind} schedule was saved`);
      await redraw();
    } catch (failure) {
      showFieldErrors(form, failure);
    }
  });
  showMode();
  return form;
}

// The section on a connection's page; redrawn in place after each change.
export async function schedulesSection(connection) {
  const section = h("section", { id: "schedules", "aria-labelledby": "schedules-title" });
  async function draw() {
    const schedules = await get(`/api/connections/${connection.id}/schedules`);
    const parts = KINDS.filter(([, directions]) => directions.includes(connection.direction)).map(([kind]) => {
      const schedule = schedules.find((one) => one.kind === kind) || null;
      return h("fieldset", { id: `schedule-${kind}`, dataset: { kind } },
        h("legend", {}, `${kind === "push" ? "Push" : "Sync"} schedule`),
        h("p", { id: `schedule-${kind}-next`, dataset: { nextRunAt: schedule && schedule.enabled ? schedule.nextRunAt : "" } },
          cadence(schedule)),
        scheduleForm(connection.id, kind, schedule, draw));
    });
    section.replaceChildren(h("h2", { id: "schedules-title" }, "Schedules"), ...parts);
  }
  await draw();
  return section;
}
