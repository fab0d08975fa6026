// What the legal pages share: names for what a notice targets, a statement of reasons shown
// element by element, the time left on a deadline, and a file download from the API.

import { getBlob } from "../api.js";
import { formatValue, h, humanize, saveBlob } from "../dom.js";
import { namesCell } from "../refs.js";

const TARGET_PATHS = { channel: "/channels", movie: "/movies", series: "/series", episode: "/episodes", tenant: "/tenants" };
const TARGET_WORDS = { channel: "Channel", movie: "Movie", series: "Series", episode: "Episode", line: "Line", tenant: "Service" };

// "Channel Match", "Line fan": what a notice or a decision names, by name, never by id.
export function targetItems(targets) {
  if (!targets || !targets.length) return h("span", { class: "muted" }, "nothing of this service");
  return h("ul", { class: "plain targets" }, targets.map((t) => h("li", {},
    `${TARGET_WORDS[t.kind] || humanize(t.kind)} `,
    TARGET_PATHS[t.kind] && /^\d+$/.test(t.ref) ? h("strong", {}, namesCell(TARGET_PATHS[t.kind], t.ref, t.kind === "episode" ? "title" : "name")) : h("strong", {}, t.ref))));
}

// One element of a statement: nested parts as nested lists, what it restricts by name.
function valueView(v) {
  if (Array.isArray(v)) {
    if (v.length && v.every((x) => x && typeof x === "object" && "kind" in x && "ref" in x)) return targetItems(v);
    return v.length ? h("ul", { class: "plain" }, v.map((x) => h("li", {}, valueView(x)))) : "—";
  }
  if (v && typeof v === "object") {
    return h("dl", { class: "props nested" }, Object.entries(v).flatMap(([k, x]) => [h("dt", {}, humanize(k)), h("dd", {}, valueView(x))]));
  }
  return formatValue(v);
}

// A statement of reasons (DSA Art. 17) as a description list, one element per row.
export function statementView(statement, title = "Statement of reasons") {
  const rows = Object.entries(statement || {}).flatMap(([k, v]) => [h("dt", {}, humanize(k)), h("dd", {}, valueView(v))]);
  return h("details", { class: "statement" }, h("summary", {}, title), h("dl", { class: "props" }, rows));
}

// "in 9 days 4 h" or "2 h ago": a deadline read at a glance, beside its exact date.
export function timeLeft(iso, now = Date.now()) {
  if (!iso) return "—";
  const at = new Date(/Z$|[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`).getTime();
  const seconds = Math.round((at - now) / 1000);
  const abs = Math.abs(seconds);
  const days = Math.floor(abs / 86400);
  const hours = Math.floor((abs % 86400) / 3600);
  const minutes = Math.floor((abs % 3600) / 60);
  const text = days ? `${days} ${days === 1 ? "day" : "days"}${hours ? ` ${hours} h` : ""}` : hours ? `${hours} h ${minutes} min` : `${minutes} min`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

// Save an API answer as a file (evidence, a personal-data export): the bearer token goes
// with the request, so a plain link cannot do it.
export async function download(path, filename) {
  const blob = await getBlob(path);
  saveBlob(blob, filename);
}
