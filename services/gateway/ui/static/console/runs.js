// Runs: history for the org or a connection (filters, cursor pages), and one run's detail, followed live.

import { get, post, query } from "./api.js";
import { h, notify, show, statusBadge, table, when } from "./dom.js";
import { runItems } from "./run_items.js";

const STATUSES = ["queued", "running", "succeeded", "partial", "incomplete", "failed", "cancelled"];
let follow = 0;

function runRow(run) {
  return h("tr", { dataset: { runId: run.runId, status: run.status, kind: run.kind } },
    h("td", {}, h("a", { href: `#/runs/${run.runId}` }, when(run.createdAt))),
    h("td", {}, run.kind, run.dryRun ? " (dry run)" : "", run.parentRunId ? " (retry)" : ""),
    h("td", {}, statusBadge(run.status)),
    h("td", {}, `${run.processed} / ${run.total}`),
    h("td", {}, String(run.failed)),
    h("td", {}, when(run.finishedAt)));
}

// A table of runs with a "Next page" button following `nextCursor`.
export async function runsTable(filters) {
  const holder = h("div", { class: "runs" });
  const tbody = h("tbody", {});
  const more = h("button", { type: "button", class: "next-page", hidden: true }, "Next page");
  let cursor = null;
  async function load() {
    const page = await get(`/api/runs${query({ ...filters, cursor, limit: 25 })}`);
    page.items.forEach((run) => tbody.append(runRow(run)));
    cursor = page.nextCursor;
    more.hidden = !cursor;
    if (!tbody.childElementCount) tbody.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No runs.")));
  }
  more.addEventListener("click", () => load().catch((failure) => notify(failure.message, "error")));
  await load();
  holder.append(h("table", {}, h("caption", {}, "Runs, newest first"),
    h("thead", {}, h("tr", {}, ["Created", "Kind", "Status", "Processed", "Failed", "Finished"].map((name) => h("th", { scope: "col" }, name)))),
    tbody), more);
  return holder;
}

export async function runsPage() {
  const slot = h("div", { id: "runs-slot" });
  const form = h("form", { class: "filters", id: "run-filters", method: "get" },
    h("label", { for: "filter-kind" }, "Kind"),
    h("select", { id: "filter-kind" }, ["", "push", "sync"].map((kind) => h("option", { value: kind }, kind || "any"))),
    h("label", { for: "filter-status" }, "Status"),
    h("select", { id: "filter-status" }, ["", ...STATUSES].map((status) => h("option", { value: status }, status || "any"))),
    h("label", { for: "filter-since" }, "Since"),
    h("input", { id: "filter-since", type: "date" }),
    h("button", { type: "submit" }, "Filter"));
  async function load() {
    const since = form.querySelector("#filter-since").value;
    slot.replaceChildren(await runsTable({
      kind: form.querySelector("#filter-kind").value,
      status: form.querySelector("#filter-status").value,
      since: since ? new Date(`${since}T00:00:00`).toISOString() : "",
    }));
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load().catch((failure) => notify(failure.message, "error"));
  });
  show(h("h1", {}, "Runs"), form, slot);
  await load();
}

const COUNTS = ["total", "processed", "succeeded", "failed", "skipped", "errorCount", "pages", "inserted", "updated", "unchanged", "invalid"];

function counts(run) {
  return h("dl", { class: "facts counts" }, COUNTS.filter((name) => run[name] !== null && run[name] !== undefined)
    .map((name) => [h("dt", {}, name), h("dd", { dataset: { field: name } }, String(run[name]))]));
}

function errorsTable(run) {
  if (!run.errors.length) return h("p", { class: "muted" }, "No errors.");
  return table(`Errors (the first ${run.errors.length} of ${run.errorCount})`, ["Item", "Code", "Message", "Attempt", "At"],
    run.errors.map((error) => h("tr", {}, [error.itemId, error.code, error.message, error.attempt, when(error.at)].map((text) => h("td", {}, text ?? "–")))));
}

async function liveLink(run) {
  const minted = await post(`/api/runs/${run.runId}/view-token`);
  window.open(minted.url, "_blank", "noopener,noreferrer");
}

function runActions(run) {
  const base = `/api/connections/${run.connectionId}/${run.kind}/run/${run.runId}`;
  const act = (work) => async (event) => {
    event.currentTarget.disabled = true;
    try {
      await work();
    } catch (failure) {
      notify(failure.message, "error");
      event.currentTarget.disabled = false;
    }
  };
  return h("div", { class: "actions" },
    h("button", { type: "button", id: "live", onclick: act(() => liveLink(run)) }, "Live view"),
    !run.done && h("button", { type: "button", id: "cancel", changes: true, onclick: act(async () => {
      await post(`${base}/cancel`);
      notify("Cancel requested");
      await runDetail(run.runId);
    }) }, "Cancel"),
    run.done && run.kind === "push" && run.failed > 0 && h("button", { type: "button", id: "retry", changes: true, onclick: act(async () => {
      const child = await post(`${base}/retry`);
      notify("Retrying the failed items");
      window.location.hash = `#/runs/${child.runId}`;
    }) }, "Retry failed"));
}

export async function runDetail(id) {
  window.clearTimeout(follow);
  const run = await get(`/api/runs/${id}`);
  if (window.location.hash !== `#/runs/${id}`) return;
  show(
    h("p", {}, h("a", { href: `#/connections/${run.connectionId}` }, "‹ Connection"), " · ", h("a", { href: "#/runs" }, "All runs")),
    h("h1", {}, `${run.kind} run `, statusBadge(run.status)),
    h("p", { id: "run-state", dataset: { runId: run.runId, status: run.status, done: String(run.done) } },
      run.done ? `Finished ${when(run.finishedAt)}` : "Running — this page follows it",
      run.statusReason ? ` · ${run.statusReason}` : "",
      run.dryRun ? " · dry run (nothing written to the platform)" : "",
      run.parentRunId ? [" · retry of ", h("a", { href: `#/runs/${run.parentRunId}` }, "its parent run")] : ""),
    h("progress", { max: Math.max(run.total, 1), value: run.processed, "aria-label": "Progress" }),
    runActions(run),
    h("h2", {}, "Counts"), counts(run),
    h("h2", {}, "Errors"), errorsTable(run),
    run.done ? await runItems(run) : h("p", { class: "muted" }, "Items are listed when the run has finished."),
  );
  if (!run.done) {
    follow = window.setTimeout(() => runDetail(id).catch((failure) => notify(failure.message, "error")), 1000);
  }
}
