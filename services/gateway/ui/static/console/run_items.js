// One finished run's items (push outcomes, or a sync's rejected records), filtered by outcome, in pages.

import { get, query } from "./api.js";
import { h, notify, when } from "./dom.js";

const PUSH_OUTCOMES = ["", "created", "updated", "unchanged", "deactivated", "planned", "failed", "skipped"];

function itemRow(item) {
  return h("tr", { dataset: { outcome: item.outcome } },
    [item.segmentName || item.externalId || item.itemId, item.outcome, item.plannedAction, item.platformSegmentId,
      item.errorCode, item.errorMessage, item.attempts, when(item.at)].map((text) => h("td", {}, text ?? "–")));
}

function rejectRow(reject) {
  return h("tr", {}, [reject.page, reject.position, reject.sourceId, reject.reason].map((text) => h("td", {}, text ?? "–")),
    h("td", {}, h("code", {}, JSON.stringify(reject.payload).slice(0, 200))));
}

async function pager(section, url, headers, rowOf) {
  const tbody = h("tbody", {});
  const more = h("button", { type: "button", hidden: true }, "Next page");
  let cursor = null;
  async function load() {
    const page = await get(`${url}${url.includes("?") ? "&" : "?"}${query({ cursor, limit: 50 }).slice(1)}`);
    page.items.forEach((item) => tbody.append(rowOf(item)));
    cursor = page.nextCursor;
    more.hidden = !cursor;
  }
  more.addEventListener("click", () => load().catch((failure) => notify(failure.message, "error")));
  await load();
  section.replaceChildren(h("table", {},
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))), tbody), more);
  if (!tbody.childElementCount) section.prepend(h("p", { class: "muted" }, "None."));
}

export async function runItems(run) {
  const section = h("section", { "aria-labelledby": "items-title" });
  const slot = h("div", {});
  if (run.kind === "sync") {
    section.append(h("h2", { id: "items-title" }, "Rejected records"), slot);
    await pager(slot, `/api/connections/${run.connectionId}/sync/run/${run.runId}/rejects`,
      ["Page", "Position", "Source id", "Reason", "Record"], rejectRow);
    return section;
  }
  const filter = h("select", { id: "item-outcome" }, PUSH_OUTCOMES.map((outcome) => h("option", { value: outcome }, outcome || "any outcome")));
  const load = () => pager(slot, `/api/runs/${run.runId}/items${query({ outcome: filter.value })}`,
    ["Segment", "Outcome", "Planned", "Segment id", "Code", "Message", "Attempts", "At"], itemRow);
  filter.addEventListener("change", () => load().catch((failure) => notify(failure.message, "error")));
  section.append(h("h2", { id: "items-title" }, "Items"), h("label", { for: "item-outcome" }, "Outcome "), filter, slot);
  await load();
  return section;
}
