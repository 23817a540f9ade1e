// Live status of one run: reads /api/runs/{id}/events (Server-Sent Events) with the page's view token.
"use strict";

(function () {
  const runId = decodeURIComponent(window.location.pathname.split("/").filter(Boolean).pop() || "");
  const token = new URLSearchParams(window.location.search).get("token") || "";
  const body = document.body;
  const connection = document.getElementById("connection");
  const bar = document.getElementById("bar");
  const outcomes = document.getElementById("outcomes");
  const errors = document.getElementById("errors");
  const errorsShown = document.getElementById("errors-shown");
  document.getElementById("run-id").textContent = runId;

  function show(name, value) {
    const text = value === null || value === undefined ? "–" : String(value);
    document.querySelectorAll('[data-field="' + name + '"]').forEach(function (element) {
      element.textContent = text;
    });
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
  }

  function render(run) {
    show("statusReason", run.statusReason || "");
    ["kind", "status", "processed", "total", "succeeded", "failed", "skipped", "errorCount",
     "pages", "inserted", "updated", "unchanged", "invalid", "startedAt", "finishedAt"].forEach(function (name) {
      show(name, run[name]);
    });
    body.dataset.kind = run.kind;
    body.dataset.status = run.status;
    bar.max = Math.max(run.total, 1);
    bar.value = run.processed;
    outcomes.replaceChildren();
    Object.keys(run.outcomes || {}).sort().forEach(function (outcome) {
      const row = document.createElement("tr");
      row.dataset.outcome = outcome;
      cell(row, outcome);
      cell(row, run.outcomes[outcome]);
      outcomes.appendChild(row);
    });
  }

  function addError(error) {
    const row = document.createElement("tr");
    [error.itemId, error.code, error.message, error.attempt, error.at].forEach(function (text) {
      cell(row, text);
    });
    errors.appendChild(row);
    errorsShown.textContent = String(errors.rows.length);
  }

  function say(state, text) {
    body.dataset.state = state;
    connection.textContent = text;
  }

  const source = new EventSource(
    "/api/runs/" + encodeURIComponent(runId) + "/events?token=" + encodeURIComponent(token)
  );
  source.onopen = function () { say("live", "live"); };
  source.addEventListener("run", function (event) { render(JSON.parse(event.data)); });
  source.addEventListener("item_error", function (event) { addError(JSON.parse(event.data)); });
  source.addEventListener("end", function () {
    source.close();
    say("final", "finished");
  });
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) {
      say("closed", "disconnected: the link may have expired, ask for a new one");
    } else {
      say("reconnecting", "reconnecting…");
    }
  };
})();
