// Forms generated from the API's request schemas, with per-resource hints, showing the
// API's per-field errors next to the fields. A failed submit leaves every value in place.

import { get } from "./api.js";
import { clear, copyText, debounce, h, humanize, nextId } from "./dom.js";
import { FIELDS, generatePassword, humanMessage, valueLabel } from "./labels.js";
import { queryParams, resolve } from "./openapi.js";

const LONG_TEXT = /^(notes|plot|cast|message|description|overview)$/;

// Field specs from a JSON schema; hints[name] may override any part or hide the field.
export function fieldsFromSchema(schema, hints = {}) {
  if (!schema || !schema.properties) return [];
  const required = new Set(schema.required || []);
  const fields = [];
  for (const [name, raw] of Object.entries(schema.properties)) {
    const hint = hints[name] || {};
    if (hint.hidden) continue;
    const s = resolve(raw);
    const known = FIELDS[name] || {};
    const field = {
      name,
      label: hint.label || known.label || s.title || humanize(name),
      help: hint.help || known.help || s.description || "",
      example: known.example || (s.examples && s.examples[0]) || "",
      required: required.has(name),
      nullable: Boolean(s.nullable),
      default: s.default ?? raw.default,
      schema: s,
      ...widgetFor(name, s),
      ...hint,
    };
    fields.push(field);
  }
  return fields;
}

function widgetFor(name, s) {
  // x-enum-labels: readable names the API gives its values (transcode profiles, say).
  if (s.enum) return { widget: "select", options: s.enum.map((v) => [v, (s["x-enum-labels"] || {})[v] || valueLabel(v)]) };
  if (s.type === "boolean") return { widget: "checkbox" };
  if (s.type === "integer" || s.type === "number") return { widget: "number", step: s.type === "integer" ? 1 : "any", min: s.minimum, max: s.maximum };
  if (s.type === "array") {
    const item = resolve(s.items || {});
    if (item.type === "object" || item.properties) return { widget: "objects", item };
    if (item.enum) return { widget: "multiselect", options: item.enum.map((v) => [v, (item["x-enum-labels"] || {})[v] || valueLabel(v)]) };
    return { widget: "list", itemType: item.type || "string" };
  }
  if (s.type === "object") return { widget: "json" };
  if (s.format === "date-time") return { widget: "datetime" };
  if (LONG_TEXT.test(name) || (s.maxLength || 0) > 2000) return { widget: "textarea" };
  if (/password/.test(name) && name !== "current_password") return { widget: "password", autocomplete: "new-password" };
  return { widget: "text" };
}

function toLocalInput(value) {
  if (!value) return "";
  const d = new Date(/Z$|[+-]\d\d:\d\d$/.test(value) ? value : `${value}Z`);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function control(field, value, id) {
  const common = { id, name: field.name, "aria-describedby": `${id}-err ${field.help ? `${id}-help` : ""}`.trim() };
  switch (field.widget) {
    case "checkbox":
      return h("input", { ...common, type: "checkbox", checked: Boolean(value ?? field.default) });
    case "select":
    case "ref": {
      const select = h("select", { ...common, required: field.required && !field.nullable });
      if (field.choose) select.append(h("option", { value: "" }, field.choose));
      else if (!field.required || field.nullable || field.widget === "ref") select.append(h("option", { value: "" }, field.widget === "ref" ? "—" : "(none)"));
      for (const [v, label] of field.options || []) select.append(h("option", { value: v, selected: String(value ?? field.default ?? "") === String(v) }, label));
      if (field.widget !== "ref") return select;
      const chosen = value === undefined || value === null ? [] : [value];
      loadOptions(field, select, chosen);
      return searchPicker(field, select, chosen, id);
    }
    case "multiselect":
    case "refs": {
      const chosen = (value ?? field.default ?? []).map(String);
      const select = h("select", { ...common, multiple: true, size: 5 });
      for (const [v, label] of field.options || []) select.append(h("option", { value: v, selected: chosen.includes(String(v)) }, label));
      if (field.widget !== "refs") return select;
      loadOptions(field, select, value || []);
      return searchPicker(field, select, value || [], id);
    }
    case "number":
      return h("input", { ...common, type: "number", inputmode: "numeric", step: field.step, min: field.min, max: field.max, value: value ?? field.default ?? "", required: field.required && !field.nullable, placeholder: field.example ? `e.g. ${field.example}` : undefined });
    case "datetime":
      return h("input", { ...common, type: "datetime-local", value: toLocalInput(value) });
    case "password":
      return passwordInput(field, value, common);
    case "textarea":
      return h("textarea", { ...common, rows: 3, placeholder: field.example || undefined }, value ?? field.default ?? "");
    case "json":
      return h("textarea", { ...common, rows: 4, class: "mono" }, value ? JSON.stringify(value, null, 2) : "");
    case "list":
      return h("input", { ...common, value: (value || field.default || []).join(", "), placeholder: field.example ? `e.g. ${field.example}` : "comma-separated" });
    case "objects":
      return objectsEditor(field, value || field.default || [], common);
    default:
      return h("input", { ...common, type: field.inputType || "text", value: value ?? field.default ?? "", required: field.required, autocomplete: field.autocomplete || "off", maxlength: field.schema?.maxLength, placeholder: field.example ? `e.g. ${field.example}` : undefined });
  }
}

// A password field with a generator and a copy button: the value is shown, so the
// operator can hand it to the customer.
function passwordInput(field, value, common) {
  const input = h("input", { ...common, type: field.inputType || "text", value: value ?? "", autocomplete: "new-password", spellcheck: "false", class: "mono", required: field.required, maxlength: field.schema?.maxLength });
  const generate = h("button", { type: "button", class: "secondary", onclick: () => {
    input.type = "text";
    input.value = generatePassword();
    input.dispatchEvent(new Event("input", { bubbles: true }));
  } }, "Generate");
  const copy = h("button", { type: "button", class: "secondary", onclick: () => input.value && copyText(input.value, "Password copied") }, "Copy");
  const box = h("div", { class: "with-buttons" }, input, generate, copy);
  box.input = input;
  return box;
}

// The option label of a referenced row: a package reads "1 month · 10 credits".
function optionText(field, row) {
  if (field.ref.format) return field.ref.format(row);
  const label = field.ref.label || "name";
  return `${row[label] ?? row.id}`;
}

async function loadOptions(field, select, chosen, q = "") {
  try {
    const params = { per_page: 200, ...(field.ref.params || {}) };
    if (q) params.q = q;
    const page = await get(field.ref.path, params);
    const chosenText = chosen.map(String);
    // Keep what is chosen (and the placeholder); replace the rest with this search's rows.
    for (const option of [...select.options]) if (option.value && !option.selected) option.remove();
    const present = new Set([...select.options].map((o) => o.value));
    for (const row of page.items) {
      if (present.has(String(row.id))) continue;
      select.append(h("option", { value: row.id, selected: chosenText.includes(String(row.id)) }, optionText(field, row)));
    }
  } catch {
    // The user may not read that resource; the field still accepts nothing and says so.
    select.append(h("option", { value: "", disabled: true }, "(unavailable)"));
  }
}

// A reference picker: a search box that asks the API (?q=) and the list of matches.
function searchPicker(field, select, chosen, id) {
  // Only lists the API can search (?q=) get a search box.
  if (!queryParams(field.ref.path).some((p) => p.name === "q")) return select;
  const search = h("input", { type: "search", id: `${id}-q`, class: "picker-search", "aria-label": `Search ${field.label.toLowerCase()}`, placeholder: "Type to search…", autocomplete: "off" });
  search.addEventListener("input", debounce(() => {
    const keep = [...select.selectedOptions].map((o) => o.value).filter(Boolean);
    loadOptions(field, select, keep.length ? keep : chosen, search.value.trim());
  }, 250));
  const box = h("div", { class: "picker" }, search, select);
  box.input = select;
  return box;
}

// The element holding a field's value (a picker or password box wraps it).
const valueElement = (el) => el.input || el;

// A repeatable group for arrays of objects (a channel's ordered sources, for instance).
function objectsEditor(field, rows, common) {
  const box = h("div", { id: common.id, class: "objects", role: "group", "aria-describedby": common["aria-describedby"] });
  const sub = fieldsFromSchema(field.item, field.itemHints || {});
  const list = h("ol", { class: "objects-list" });
  const addRow = (values = {}) => {
    const li = h("li", { class: "object-row" });
    const index = () => [...list.children].indexOf(li);
    for (const f of sub) {
      const id = nextId("o");
      const el = control(f, values[f.name], id);
      el.dataset.sub = f.name;
      li.append(h("div", { class: "field" }, h("label", { for: id }, f.label), el, h("p", { class: "field-error", id: `${id}-err` })));
    }
    li.append(h("button", { type: "button", class: "link", onclick: () => li.remove(), "aria-label": `Remove ${field.label.toLowerCase()} row` }, "Remove"));
    li.getIndex = index;
    list.append(li);
  };
  rows.forEach((r) => addRow(r));
  box.append(list, h("button", { type: "button", class: "secondary", onclick: () => addRow() }, `Add ${field.itemLabel || "row"}`));
  box.collect = () => [...list.children].map((li) => {
    const out = {};
    for (const f of sub) {
      const el = li.querySelector(`[data-sub="${f.name}"]`);
      const v = readControl(f, el);
      if (v !== undefined) out[f.name] = v;
    }
    return out;
  });
  box.showErrors = (errors) => {
    [...list.children].forEach((li, i) => {
      for (const f of sub) {
        const el = li.querySelector(`[data-sub="${f.name}"]`);
        const msg = humanMessage(errors[`${field.name}.${i}.${f.name}`] || "");
        const p = li.querySelector(`#${CSS.escape(valueElement(el).id)}-err`);
        if (p) p.textContent = msg;
        valueElement(el).toggleAttribute("aria-invalid", Boolean(msg));
      }
    });
  };
  return box;
}

function readControl(field, box) {
  const el = valueElement(box);
  switch (field.widget) {
    case "checkbox":
      return el.checked;
    case "number":
      if (el.value === "") return field.nullable ? null : undefined;
      return Number(el.value);
    case "select":
      if (el.value === "") return field.nullable ? null : undefined;
      return el.value;
    case "ref":
      if (el.value === "") return field.nullable ? null : undefined;
      return Number(el.value);
    case "multiselect":
      return [...el.selectedOptions].map((o) => o.value);
    case "refs":
      return [...el.selectedOptions].map((o) => Number(o.value));
    case "datetime":
      return el.value ? new Date(el.value).toISOString() : field.nullable ? null : undefined;
    case "list": {
      const parts = el.value.split(",").map((x) => x.trim()).filter(Boolean);
      return field.itemType === "integer" ? parts.map(Number) : parts;
    }
    case "objects":
      return el.collect();
    case "json":
      if (!el.value.trim()) return undefined;
      try {
        return JSON.parse(el.value);
      } catch {
        return el.value; // the server will name the field as invalid
      }
    default:
      if (el.value === "" && !field.required) return field.nullable ? null : undefined;
      return el.value;
  }
}

/**
 * Render a form. onSubmit(values) may throw an ApiError: its fields are shown beside the
 * inputs and its message above the buttons; every value stays where the user typed it.
 * With `initial`, only changed fields are submitted (for PATCH).
 */
export function renderForm({ fields, initial, submitLabel = "Save", onSubmit, extraButtons = [], readOnly = false, confirm = null }) {
  const form = h("form", { class: "form", novalidate: true });
  const controls = new Map();
  for (const field of fields) {
    const id = nextId("f");
    const value = initial ? initial[field.name] : field.value;
    const el = control(field, value, id);
    if (readOnly) for (const c of el.querySelectorAll ? [el, ...el.querySelectorAll("input, select, button")] : [el]) c.setAttribute("disabled", "");
    controls.set(field.name, { field, el, id });
    // The star sits outside the label so the accessible name stays the field's name;
    // screen readers hear "required" from the input itself.
    const label = h("label", { for: id }, field.label);
    const star = field.required && !readOnly ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null;
    if (star && field.widget !== "objects") valueElement(el).setAttribute("aria-required", "true");
    const wrap = h("div", { class: `field field-${field.widget}` });
    if (field.widget === "checkbox") wrap.append(el, label);
    else wrap.append(h("div", { class: "label-row" }, label, star), el);
    if (field.help) wrap.append(h("p", { class: "help", id: `${id}-help` }, field.help));
    wrap.append(h("p", { class: "field-error", id: `${id}-err` }));
    form.append(wrap);
  }
  const formError = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit" }, submitLabel);
  form.append(formError, h("div", { class: "buttons" }, readOnly ? null : submit, extraButtons));
  const snapshot = () => {
    const values = {};
    for (const [name, { field, el }] of controls) {
      const v = readControl(field, el);
      if (v !== undefined) values[name] = v;
    }
    return values;
  };
  const start = initial ? JSON.stringify(snapshot()) : null;
  const before = initial ? snapshot() : null;
  form.showErrors = (error) => {
    const fieldsErr = (error && error.fields) || {};
    const unplaced = [];
    for (const [name, msg] of Object.entries(fieldsErr)) {
      const top = name.split(".")[0];
      if (!controls.has(top)) unplaced.push(`${humanize(name)}: ${humanMessage(msg)}`);
    }
    for (const [name, { el, id, field }] of controls) {
      const raw = fieldsErr[name] ? [fieldsErr[name]] : Object.entries(fieldsErr).filter(([k]) => k.startsWith(`${name}.`) && field.widget !== "objects").map(([, m]) => m);
      const msg = [...new Set(raw.map(humanMessage))].join(" ");
      form.querySelector(`#${CSS.escape(id)}-err`).textContent = msg || "";
      valueElement(el).toggleAttribute("aria-invalid", Boolean(msg));
      if (field.widget === "objects") el.showErrors(fieldsErr);
    }
    formError.textContent = error ? [error.message, ...unplaced].join(" ") : "";
    const firstBad = form.querySelector("[aria-invalid]");
    if (firstBad) firstBad.focus();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (confirm && !window.confirm(confirm)) return;
    let values = snapshot();
    if (before) {
      values = Object.fromEntries(Object.entries(values).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(before[k])));
    }
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await onSubmit(values);
      form.showErrors(null);
    } catch (error) {
      if (error && error.status) form.showErrors(error);
      else form.showErrors({ message: String(error && error.message ? error.message : error), fields: {} });
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  form.isDirty = () => start !== null && start !== JSON.stringify(snapshot());
  return form;
}

export function dialog(title, ...content) {
  const titleId = nextId("dlg");
  const close = h("button", { type: "button", class: "close", "aria-label": "Close" }, "×");
  const body = h("div", { class: "dialog-body" }, content);
  const dlg = h("dialog", { "aria-labelledby": titleId }, h("div", { class: "dialog-head" }, h("h2", { id: titleId }, title), close), body);
  close.addEventListener("click", () => dlg.close());
  dlg.addEventListener("close", () => {
    dlg.dispatchEvent(new Event("closed"));
    dlg.remove();
  });
  document.body.append(dlg);
  dlg.showModal();
  dlg.body = body;
  dlg.setBody = (...nodes) => clear(body, nodes);
  return dlg;
}

// A reference picker outside a form (a list's filter): a search box and a select named
// ``name`` whose first option is ``anyLabel``.
export function refPicker({ name, label, ref }, value, id, anyLabel = "any") {
  const box = control({ name, label, ref, widget: "ref", nullable: true }, value === "" ? undefined : value, id);
  const select = valueElement(box);
  select.options[0].textContent = anyLabel;
  return box;
}
