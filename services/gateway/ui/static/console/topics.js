// Topics: the org's taxonomy as a tree by path, searchable by name or path.

import { get, query } from "./api.js";
import { h, show } from "./dom.js";

const MAX_PAGES = 20; // 20,000 topics; a larger taxonomy is searched through the API or the CLI

async function allTopics() {
  const topics = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const listed = await get(`/api/topics${query({ limit: 1000, cursor })}`);
    topics.push(...listed.items);
    cursor = listed.nextCursor;
    if (!cursor) return { topics, complete: true };
  }
  return { topics, complete: false };
}

function tree(topics) {
  const root = { children: new Map(), topics: [] };
  for (const topic of topics) {
    let node = root;
    for (const part of topic.path.length ? topic.path : [topic.parentCategory].filter(Boolean)) {
      if (!node.children.has(part)) node.children.set(part, { children: new Map(), topics: [] });
      node = node.children.get(part);
    }
    node.topics.push(topic);
  }
  return root;
}

function count(node) {
  let total = node.topics.length;
  for (const child of node.children.values()) total += count(child);
  return total;
}

function render(node, open) {
  const items = [...node.children.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, child]) =>
    h("li", {}, h("details", { open }, h("summary", {}, `${name} `, h("span", { class: "muted" }, `(${count(child)})`)), render(child, open))));
  node.topics.sort((a, b) => a.name.localeCompare(b.name)).forEach((topic) => items.push(h("li", { class: "topic" },
    topic.name, topic.externalId ? h("span", { class: "muted" }, ` · ${topic.externalId}`) : "",
    topic.cpm !== null ? h("span", { class: "muted" }, ` · CPM ${topic.cpm}`) : "")));
  return h("ul", { role: "group" }, items);
}

export async function topicsPage() {
  const { topics, complete } = await allTopics();
  const slot = h("div", { id: "topic-tree" });
  const search = h("input", { id: "topic-search", type: "search", placeholder: "name or path" });
  function draw() {
    const needle = search.value.trim().toLowerCase();
    const shown = needle
      ? topics.filter((topic) => [topic.name, ...topic.path].join(" / ").toLowerCase().includes(needle))
      : topics;
    slot.replaceChildren(h("p", { role: "status" }, `${shown.length} of ${topics.length} topics`), render(tree(shown), Boolean(needle)));
  }
  search.addEventListener("input", draw);
  show(h("h1", {}, "Topics"),
    complete ? null : h("p", { class: "muted" }, `Showing the first ${topics.length} topics.`),
    h("label", { for: "topic-search" }, "Search "), search, slot);
  draw();
}
