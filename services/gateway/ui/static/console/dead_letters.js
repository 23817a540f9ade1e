// Operations > Dead letters: the org's messages the workers gave up on, their error and headers, and replay.

import { get, post } from "./api.js";
import { h, notify, show, table, when } from "./dom.js";

function inspect(letter) {
  return h("details", { dataset: { letterId: letter.id } },
    h("summary", {}, `${letter.errorType}: ${letter.error.split(/\s+/).join(" ").slice(0, 120)}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Error"), h("dd", {}, h("pre", {}, letter.error)),
      h("dt", {}, "Position"), h("dd", {}, `dead-letter partition ${letter.partition}, offset ${letter.offset}`),
      Object.entries(letter.headers).map(([name, value]) => [h("dt", {}, name), h("dd", {}, h("code", {}, value))]),
      h("dt", {}, "Message"), h("dd", {}, h("pre", {}, letter.body))));
}

export async function deadLettersPage() {
  const page = await get("/api/dead-letters?limit=200");
  const rows = page.items.map((letter) => h("tr", { dataset: { letterId: letter.id } },
    h("td", {}, when(letter.failedAt)),
    h("td", {}, letter.sourceTopic),
    h("td", {}, String(letter.attempts)),
    h("td", {}, inspect(letter)),
    h("td", {}, letter.replayOf || ""),
    h("td", {}, h("button", { type: "button", dataset: { action: "replay" }, changes: true, onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        const replayed = await post(`/api/dead-letters/${letter.id}/replay`);
        notify(`Replayed ${replayed.id} to ${replayed.topic}; if it fails again it comes back here`);
      } catch (failure) {
        notify(failure.message, "error");
      } finally {
        button.disabled = false;
      }
    } }, "Replay"))));
  show(h("h1", {}, "Operations › Dead letters"),
    h("p", { class: "muted" },
      "Messages of this org a worker gave up on after its retries. Replay publishes the original again, ",
      "with its key and headers, to the topic it failed on; the dead letter stays listed."),
    h("div", {}, page.truncated
      ? h("p", { class: "error" }, `Only the oldest ${page.scanned} dead letters of the topic were read.`) : null),
    page.items.length
      ? table("The org's dead letters, newest first", ["Failed", "Topic", "Attempts", "Error", "Replay of", ""], rows)
      : h("p", { id: "dead-letters-empty", class: "muted" }, "No dead letters for this org."),
    h("p", {}, h("button", { type: "button", id: "refresh-dead-letters", onclick: () => deadLettersPage() }, "Refresh")));
}
