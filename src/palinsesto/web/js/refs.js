// Names for ids in table cells: a category, bouquet, reseller or tenant is shown by its
// name, looked up once per page view (one GET per distinct id, shared by every row).

import { get } from "./api.js";
import { h } from "./dom.js";

const cache = new Map();

function lookup(path, id, label) {
  const key = `${path}/${id}`;
  if (!cache.has(key)) {
    cache.set(key, get(key).then((row) => String(row[label] ?? row.name ?? `#${id}`)).catch(() => `#${id}`));
  }
  return cache.get(key);
}

// Forget looked-up names (after a rename, a page shows the new one).
export function forgetNames() {
  cache.clear();
}

// A cell showing the names of ``ids`` (one id or a list), filled in when they arrive.
export function namesCell(path, ids, label = "name") {
  const list = (Array.isArray(ids) ? ids : [ids]).filter((v) => v !== null && v !== undefined && v !== "");
  const span = h("span", { class: "ref-names" }, list.length ? "…" : "—");
  if (list.length) {
    Promise.all(list.map((id) => lookup(path, id, label))).then((names) => { span.textContent = names.join(", "); });
  }
  return span;
}

// The table column for a reference: ``{ name, label, render }`` for resources.js.
export const refColumn = (name, label, path, nameField = "name") => ({ name, label, render: (row) => namesCell(path, row[name], nameField) });
