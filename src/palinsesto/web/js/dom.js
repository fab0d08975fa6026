// Tiny DOM helpers: h() builds elements, so no HTML strings (and no injection) anywhere.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.dataset.kind = kind;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 3500);
}

export async function copyText(text, what = "Copied") {
  try {
    await navigator.clipboard.writeText(text);
    toast(`${what} to the clipboard.`);
  } catch {
    // Clipboard needs a secure context; fall back to a prompt the user can copy from.
    window.prompt("Copy this:", text);
  }
}

export function humanize(name) {
  const text = String(name).replace(/_ids$/, " IDs").replace(/_id$/, " ID").replace(/[_-]/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function formatValue(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === "object" ? v.url || v.name || JSON.stringify(v) : v)).join(", ") || "—";
  }
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) {
    const d = new Date(value.endsWith("Z") || /[+-]\d\d:\d\d$/.test(value) ? value : `${value}Z`);
    if (!Number.isNaN(d.getTime())) return d.toLocaleString();
  }
  return String(value);
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// Save a Blob as a file (an export, an API answer fetched with the bearer token).
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// A data table: columns are [label, (row) => cell]; the last column holds the row's buttons.
export function dataTable(caption, columns, rows, buttons) {
  const head = h("tr", {}, columns.map(([label]) => h("th", { scope: "col" }, label)), buttons ? h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")) : null);
  const body = h("tbody", {}, rows.map((row) => h("tr", {},
    columns.map(([label, cell]) => h("td", { "data-label": label }, cell(row))),
    buttons ? h("td", { class: "actions" }, buttons(row)) : null)));
  return h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { class: "sr-only" }, caption), h("thead", {}, head), body));
}
