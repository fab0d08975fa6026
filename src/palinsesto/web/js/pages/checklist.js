// The first hour: an empty panel shows the steps from nothing to a playlist in a player,
// each ticked as soon as its list has something in it.

import { get } from "../api.js";
import { h } from "../dom.js";
import { has } from "../openapi.js";

const STEPS = [
  { path: "/categories", key: "categories", title: "Create a category", help: "Groups channels in players (News, Sports…)." },
  { path: "/channels", key: "channels", title: "Add a channel", help: "Pull a stream from an address, or push one from OBS." },
  { path: "/bouquets", key: "bouquets", title: "Make a bouquet", help: "A pack of channels a line can watch." },
  { path: "/lines", key: "lines", title: "Create a line", help: "A customer's username and password." },
];

async function count(path) {
  try {
    return (await get(path, { per_page: 1 })).total;
  } catch {
    return null;
  }
}

// Null when everything is done (the dashboard then shows only its figures).
export async function firstHourChecklist() {
  const steps = STEPS.filter((s) => has(s.path));
  const totals = await Promise.all(steps.map((s) => count(s.path)));
  const done = totals.map((t) => Boolean(t));
  if (done.every(Boolean)) return null;
  const items = steps.map((s, i) => h("li", { class: done[i] ? "done" : "" },
    h("span", { class: "tick", "aria-hidden": "true" }, done[i] ? "✓" : String(i + 1)),
    h("div", {}, h("a", { href: `#/${s.key}` }, s.title), done[i] ? h("span", { class: "sr-only" }, " (done)") : null, h("p", { class: "muted" }, s.help))));
  items.push(h("li", {}, h("span", { class: "tick", "aria-hidden": "true" }, String(steps.length + 1)),
    h("div", {}, h("a", { href: "#/lines" }, "Test the playlist in a player"),
      h("p", { class: "muted" }, "Open a line and copy its M3U address into VLC (Media → Open Network Stream)."))));
  return h("section", { class: "card checklist", "aria-label": "Getting started" },
    h("h2", {}, "Getting started"),
    h("p", {}, `${done.filter(Boolean).length} of ${steps.length + 1} done.`),
    h("ol", { class: "steps" }, items));
}
