// Connections: the list, one connection's page (Test, Sync Now, Push, Dry run, enable, delete, schedules)
// and its ledger.

import { del, get, post, put, query } from "./api.js";
import { h, notify, show, statusBadge, table, when } from "./dom.js";
import { runsTable } from "./runs.js";
import { schedulesSection } from "./schedules.js";

const INBOUND = ["inbound", "bidirectional"];
const OUTBOUND = ["outbound", "bidirectional"];

// The soonest enabled slot of a connection's schedules, e.g. "push 01/12/2026, 13:00"; paused ones say so.
function nextRun(schedules) {
  const due = schedules.filter((schedule) => schedule.nextRunAt)
    .sort((a, b) => a.nextRunAt.localeCompare(b.nextRunAt));
  if (due.length) return `${due[0].kind} ${when(due[0].nextRunAt)}`;
  return schedules.length ? "paused" : "–";
}

export async function connectionsPage() {
  const connections = await get("/api/connections");
  const nextRuns = new Map(connections.map((connection) => [connection.id,
    h("td", { dataset: { field: "next-run" } }, "…")]));
  // One request a connection, after the list is shown: the list itself does not carry schedules.
  for (const connection of connections) {
    get(`/api/connections/${connection.id}/schedules`).then(
      (schedules) => nextRuns.get(connection.id).replaceChildren(nextRun(schedules)),
      () => nextRuns.get(connection.id).replaceChildren("?"));
  }
  const rows = connections.map((connection) => h("tr", { dataset: { connectionId: connection.id } },
    h("td", {}, h("a", { href: `#/connections/${connection.id}` }, connection.name)),
    h("td", {}, connection.platform),
    h("td", {}, connection.direction),
    h("td", {}, connection.enabled ? "enabled" : "disabled"),
    h("td", {}, connection.lastRun
      ? [statusBadge(connection.lastRun.status), " ", h("a", { href: `#/runs/${connection.lastRun.id}` },
        `${connection.lastRun.kind} ${when(connection.lastRun.finishedAt)}`)]
      : statusBadge(null)),
    h("td", {}, when(connection.lastSuccessAt)),
    nextRuns.get(connection.id)));
  show(
    h("h1", {}, "Connections"),
    h("p", {}, h("a", { href: "#/connections/new", class: "button", id: "new-connection", changes: true }, "New connection")),
    connections.length
      ? table("The org's connections", ["Name", "Platform", "Direction", "Enabled", "Last run", "Last success", "Next run"], rows)
      : h("p", { class: "muted" }, "No connections yet."),
  );
}

function testResult(result) {
  return h("div", { id: "test-result", class: result.success ? "ok" : "error", role: "status",
    dataset: { success: String(result.success) } },
  h("strong", {}, result.success ? "Test passed" : "Test failed"),
  result.error ? h("p", {}, result.error) : null,
  h("ul", {}, (result.checks || []).map((check) => h("li", {},
    `${check.direction}: ${check.success ? "ok" : check.error || "failed"}`))));
}

async function startRun(connection, kind, body) {
  const accepted = await post(`/api/connections/${connection.id}/${kind}/run`, body);
  notify(`${kind === "sync" ? "Sync" : body.dryRun ? "Dry run" : "Push"} started`);
  window.location.hash = `#/runs/${accepted.runId}`;
}

function inputOf(connection, enabled) {
  const { name, platform, direction, authType, config } = connection;
  return { name, platform, direction, authType, config, enabled };
}

function actions(connection) {
  const result = h("div", { id: "test-slot" });
  const guard = (work) => async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await work();
    } catch (failure) {
      notify(failure.message, "error");
    } finally {
      button.disabled = false;
    }
  };
  const buttons = [
    h("button", { type: "button", id: "test", changes: true, onclick: guard(async () => {
      result.replaceChildren(h("p", { class: "muted" }, "Testing…"));
      result.replaceChildren(testResult(await post(`/api/connections/${connection.id}/test`)));
    }) }, "Test"),
    INBOUND.includes(connection.direction) && h("button", { type: "button", id: "sync-now", changes: true,
      onclick: guard(() => startRun(connection, "sync", {})) }, "Sync Now"),
    OUTBOUND.includes(connection.direction) && h("button", { type: "button", id: "push", changes: true,
      onclick: guard(() => startRun(connection, "push", {})) }, "Push"),
    OUTBOUND.includes(connection.direction) && h("button", { type: "button", id: "dry-run", changes: true,
      onclick: guard(() => startRun(connection, "push", { dryRun: true })) }, "Dry run"),
    h("button", { type: "button", id: "toggle", changes: true, onclick: guard(async () => {
      await put(`/api/connections/${connection.id}`, inputOf(connection, !connection.enabled));
      notify(connection.enabled ? "Disabled" : "Enabled");
      await connectionDetail(connection.id);
    }) }, connection.enabled ? "Disable" : "Enable"),
    h("a", { href: `#/connections/${connection.id}/edit`, class: "button", id: "edit", changes: true }, "Edit"),
    h("button", { type: "button", id: "delete", class: "danger", changes: true, onclick: guard(async () => {
      if (!window.confirm(`Delete ${connection.name} with its runs and activations?`)) return;
      await del(`/api/connections/${connection.id}`);
      notify(`Deleted ${connection.name}`);
      window.location.hash = "#/connections";
    }) }, "Delete"),
  ];
  return [h("div", { class: "actions" }, buttons), result];
}

export async function connectionDetail(id) {
  const connection = await get(`/api/connections/${id}`);
  const facts = [
    ["Platform", connection.platform], ["Direction", connection.direction], ["Auth", connection.authType],
    ["Credentials", connection.hasCredentials ? "set" : "not set"],
    ["Enabled", connection.enabled ? "yes" : "no"],
    ["Last run", connection.lastRun ? `${connection.lastRun.kind} ${connection.lastRun.status}` : "never"],
    ["Last success", when(connection.lastSuccessAt)],
  ];
  const ledger = h("section", { "aria-labelledby": "ledger-title" }, h("h2", { id: "ledger-title" }, "Activations"));
  show(
    h("p", {}, h("a", { href: "#/connections" }, "‹ Connections")),
    h("h1", {}, connection.name),
    h("dl", { class: "facts" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    ...actions(connection),
    h("details", {}, h("summary", {}, "Config"), h("pre", {}, JSON.stringify(connection.config, null, 2))),
    await schedulesSection(connection),
    h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "Run history"),
      await runsTable({ connectionId: connection.id })),
    OUTBOUND.includes(connection.direction) ? ledger : null,
  );
  if (OUTBOUND.includes(connection.direction)) await activations(ledger, connection.id, null);
}

async function activations(section, connectionId, cursor) {
  const page = await get(`/api/connections/${connectionId}/activations${query({ cursor, limit: 50 })}`);
  const rows = page.items.map((item) => h("tr", {},
    h("td", {}, item.topicName), h("td", {}, item.platformSegmentId || "–"),
    h("td", {}, statusBadge(item.state), item.stateMessage ? ` ${item.stateMessage}` : ""),
    h("td", {}, item.lastOutcome || "–"),
    h("td", {}, item.lastRunId ? h("a", { href: `#/runs/${item.lastRunId}` }, when(item.lastPushedAt)) : when(item.lastPushedAt))));
  section.querySelector("table, p.muted")?.remove();
  section.querySelector(".pager")?.remove();
  section.append(rows.length
    ? table("Topic → platform segment", ["Topic", "Segment id", "State", "Last outcome", "Last push"], rows)
    : h("p", { class: "muted" }, "Nothing pushed yet."));
  if (page.nextCursor) {
    section.append(h("p", { class: "pager" }, h("button", { type: "button",
      onclick: () => activations(section, connectionId, page.nextCursor) }, "Next page")));
  }
}
