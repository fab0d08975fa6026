// The generic resource page: a server-paginated table with filters and sort (all kept in the
// URL, so reload and back work), a create form, an edit dialog with the item's actions.

import { api, get } from "./api.js";
import { clear, debounce, formatValue, h, humanize, nextId, toast } from "./dom.js";
import { dialog, fieldsFromSchema, refPicker, renderForm } from "./form.js";
import { fieldLabel, valueLabel } from "./labels.js";
import { collectionActions, has, itemActions, itemPath, itemSchema, operation, queryParams, requestSchema, resolve } from "./openapi.js";
import { refColumn } from "./refs.js";

const RESERVED = new Set(["page", "per_page", "sort"]);
// Filters that name another object are search pickers by name, never raw ids.
const FILTER_REFS = {
  category_id: (res) => ({ path: "/categories", params: res.categoryKind ? { kind: res.categoryKind } : {}, label: "name" }),
  bouquet_id: () => ({ path: "/bouquets", label: "name" }),
  reseller_id: () => ({ path: "/users", params: { role: "reseller" }, label: "username" }),
  user_id: () => ({ path: "/users", label: "username" }),
  parent_id: () => ({ path: "/users", label: "username" }),
  tenant_id: () => ({ path: "/tenants", label: "name" }),
};

export function tenantHint(me) {
  return me.role === "platform_admin"
    ? { widget: "ref", ref: { path: "/tenants", label: "name" }, label: "Tenant", required: true }
    : { hidden: true };
}

function pathFor(template, id) {
  return template.replace(/\{[^}]+\}/, encodeURIComponent(id));
}

export async function tablePage(main, res, ctx, state) {
  const { me } = ctx;
  const writable = res.canWrite(me);
  const rowSchema = itemSchema(res.path) || { properties: {} };
  const hidden = new Set(res.hideFor ? res.hideFor(me) : []);
  const columns = (res.columns || Object.keys(rowSchema.properties).slice(0, 6)).map((c) => (typeof c === "string" ? { name: c } : c)).filter((c) => !hidden.has(c.name));
  // A platform admin sees every tenant's rows: say whose each one is.
  if (me.role === "platform_admin" && rowSchema.properties && rowSchema.properties.tenant_id && !columns.some((c) => c.name === "tenant_id")) {
    columns.splice(1, 0, refColumn("tenant_id", "Tenant", "/tenants"));
  }
  const filters = queryParams(res.path).filter((p) => !RESERVED.has(p.name) && !hidden.has(p.name) && !(p.name === "tenant_id" && me.role !== "platform_admin"));
  const sortable = new Set(res.sortable || ["id", "name"]);
  const detailPath = itemPath(res.path);
  const patchable = Boolean(detailPath && has(detailPath, "patch"));
  const bulk = writable ? collectionActions(res.path).filter((a) => /bulk/.test(a.verb)) : [];
  // A resource with its own bulk editor (channels: PATCH on the collection).
  const bulkEdit = writable && res.bulkEdit && has(res.path, "patch") ? res.bulkEdit : null;
  const pickable = bulk.length > 0 || Boolean(bulkEdit);
  const selected = new Set();
  // Columns whose values are an enum show readable names ("Always on", not always_on).
  const enumColumns = new Set(Object.entries(rowSchema.properties || {}).filter(([, s]) => resolve(s).enum).map(([n]) => n));

  const heading = h("h1", {}, res.title);
  const toolbar = h("div", { class: "toolbar" });
  const creatable = writable && has(res.path, "post") && res.create !== false && !(typeof res.create === "function" && !res.create(me));
  if (creatable) {
    toolbar.append(h("button", { type: "button", onclick: () => openCreate() }, `New ${res.singular}`));
  }
  if (res.toolbarFor) toolbar.append(...res.toolbarFor(ctx));
  for (const path of writable ? res.actions || [] : []) {
    if (!has(path, "post")) continue;
    const title = (res.actionLabels || {})[path] || operation(path, "post").summary || humanize(path.split("/").pop());
    toolbar.append(h("button", { type: "button", class: "secondary", onclick: () => {
      const fields = fieldsFromSchema(requestSchema(path, "post"), { tenant_id: tenantHint(me), ...res.formHints, ...((res.actionHints || {})[path] || {}) });
      const dlg = dialog(title, renderForm({ fields, submitLabel: title, onSubmit: async (values) => {
        await api("POST", path, { json: values });
        dlg.close();
        toast(`${title}: done.`);
        load();
      } }));
    } }, title));
  }

  // Filters, from the list endpoint's query parameters.
  const filterForm = h("form", { class: "filters", role: "search", "aria-label": `Filter ${res.title.toLowerCase()}`, onsubmit: (e) => e.preventDefault() });
  const apply = () => {
    const next = { ...state.params, page: 1 };
    for (const el of filterForm.elements) {
      if (el.name) next[el.name] = el.type === "date" && el.value ? `${el.value}T00:00:00Z` : el.value;
    }
    ctx.navigate(res.key, next, { replace: true });
  };
  for (const p of filters) {
    const id = nextId("flt");
    const label = p.name === "q" ? "Search" : fieldLabel(p.name);
    let el;
    const refFor = FILTER_REFS[p.name];
    if (refFor && has(refFor(res).path)) {
      el = refPicker({ name: p.name, label, ref: refFor(res) }, state.params[p.name], id);
      el.input.addEventListener("change", apply);
    } else if (p.schema.enum) {
      el = h("select", { id, name: p.name, onchange: apply }, h("option", { value: "" }, "any"), p.schema.enum.map((v) => h("option", { value: v, selected: state.params[p.name] === v }, valueLabel(v))));
    } else if (p.schema.type === "boolean") {
      el = h("select", { id, name: p.name, onchange: apply }, h("option", { value: "" }, "any"), h("option", { value: "true", selected: state.params[p.name] === "true" }, "yes"), h("option", { value: "false", selected: state.params[p.name] === "false" }, "no"));
    } else if (p.schema.format === "date-time" || p.schema.format === "date") {
      el = h("input", { id, name: p.name, type: "date", value: (state.params[p.name] || "").slice(0, 10), onchange: apply });
    } else {
      el = h("input", { id, name: p.name, type: p.name === "q" ? "search" : p.schema.type === "integer" ? "number" : "text", value: state.params[p.name] || "", placeholder: p.description || "", oninput: debounce(apply, 300) });
    }
    filterForm.append(h("div", { class: "field" }, h("label", { for: id }, label), el));
  }

  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const table = h("table", { class: "data" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const bulkBar = h("div", { class: "bulk", hidden: true });
  // An empty list (with no filter on) says what to do next instead of showing an empty grid.
  const empty = h("section", { class: "card empty", hidden: true, "aria-label": `No ${res.title.toLowerCase()} yet` });
  const tableWrap = h("div", { class: "table-wrap" }, table);
  clear(main, heading, toolbar, filters.length ? filterForm : null, bulkBar, status, empty, tableWrap, pager);

  let controller;
  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    const params = { per_page: 25, ...res.fixedParams, ...state.params };
    status.textContent = "Loading…";
    try {
      const data = await get(res.path, params, controller.signal);
      render(data, params);
    } catch (error) {
      if (error.name === "AbortError") return;
      status.textContent = error.message;
    }
  }

  function render(data, params) {
    const sort = params.sort || "";
    const head = h("tr", {});
    if (pickable) {
      const all = h("input", { type: "checkbox", "aria-label": "Select all on this page", onchange: () => {
        for (const row of data.items) all.checked ? selected.add(row.id) : selected.delete(row.id);
        render(data, params);
      } });
      all.checked = data.items.length > 0 && data.items.every((r) => selected.has(r.id));
      head.append(h("th", { scope: "col", class: "pick" }, all));
    }
    for (const col of columns) {
      const label = col.label || fieldLabel(col.name);
      if (!sortable.has(col.name)) {
        head.append(h("th", { scope: "col" }, label));
        continue;
      }
      const dir = sort === col.name ? "ascending" : sort === `-${col.name}` ? "descending" : "none";
      const next = dir === "ascending" ? `-${col.name}` : col.name;
      head.append(h("th", { scope: "col", "aria-sort": dir }, h("button", { type: "button", class: "sort", onclick: () => ctx.navigate(res.key, { ...state.params, sort: next, page: 1 }, { replace: true }) }, label, dir === "ascending" ? " ▲" : dir === "descending" ? " ▼" : "")));
    }
    head.append(h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")));
    const body = h("tbody", {});
    for (const row of data.items) {
      const tr = h("tr", {});
      if (pickable) {
        tr.append(h("td", { class: "pick" }, h("input", { type: "checkbox", "aria-label": `Select ${row[res.labelField || "name"] ?? row.id}`, checked: selected.has(row.id), onchange: (e) => { e.target.checked ? selected.add(row.id) : selected.delete(row.id); renderBulk(); } })));
      }
      for (const col of columns) {
        const value = col.render ? col.render(row, ctx) : enumColumns.has(col.name) && row[col.name] ? valueLabel(row[col.name]) : formatValue(row[col.name]);
        tr.append(h("td", { "data-label": col.label || fieldLabel(col.name) }, value));
      }
      const open = h("button", { type: "button", class: "link", onclick: () => openItem(row) }, writable && patchable ? "Edit" : "View", h("span", { class: "sr-only" }, ` ${row[res.labelField || "name"] ?? row.id}`));
      tr.append(h("td", { class: "actions" }, open, res.rowButtons ? res.rowButtons(row, ctx, load) : null));
      body.append(tr);
    }
    clear(table, h("caption", { class: "sr-only" }, res.title), h("thead", {}, head), body);
    if (res.afterRender) res.afterRender(data.items, table, ctx);
    const pages = Math.max(1, Math.ceil(data.total / data.per_page));
    status.textContent = data.total ? `${data.total.toLocaleString()} ${data.total === 1 ? res.singular : res.title.toLowerCase()}` : `No ${res.title.toLowerCase()} yet.`;
    const filtered = filters.some((p) => state.params[p.name]);
    const isEmpty = !data.total && !filtered;
    empty.hidden = !isEmpty;
    tableWrap.hidden = isEmpty;
    pager.hidden = isEmpty;
    if (isEmpty) {
      clear(empty, h("h2", {}, `No ${res.title.toLowerCase()} yet`),
        res.emptyHelp ? h("p", {}, res.emptyHelp) : null,
        creatable ? h("button", { type: "button", onclick: () => openCreate() }, `Create the first ${res.singular}`) : h("p", { class: "muted" }, "Nothing to show here yet."),
        res.emptyExtraFor ? res.emptyExtraFor(ctx) : null);
    }
    const go = (page) => ctx.navigate(res.key, { ...state.params, page }, { replace: true });
    clear(pager,
      h("button", { type: "button", disabled: data.page <= 1, onclick: () => go(data.page - 1) }, "Previous"),
      h("span", {}, `Page ${data.page} of ${pages}`),
      h("button", { type: "button", disabled: data.page >= pages, onclick: () => go(data.page + 1) }, "Next"));
    renderBulk();
  }

  function renderBulk() {
    if (!pickable) return;
    bulkBar.hidden = selected.size === 0;
    const editButton = bulkEdit ? h("button", { type: "button", onclick: () => bulkEdit([...selected], ctx, () => { selected.clear(); load(); }) }, `Edit ${selected.size} selected…`) : null;
    clear(bulkBar, h("span", {}, `${selected.size} selected`), editButton, bulk.map((action) => {
      const schema = requestSchema(action.path, "post");
      const fields = fieldsFromSchema(schema, { ids: { hidden: true }, line_ids: { hidden: true }, ...(res.bulkHints || {}), ...(res.bulkHintsFor ? res.bulkHintsFor(me) : {}) });
      return h("button", { type: "button", onclick: () => {
        const dlg = dialog(res.bulkLabel || action.op.summary || humanize(action.verb), renderForm({ fields, submitLabel: "Apply", onSubmit: async (values) => {
          const idsKey = schema && schema.properties && schema.properties.line_ids ? "line_ids" : "ids";
          const result = await api("POST", action.path, { json: { ...values, [idsKey]: [...selected] } });
          dlg.close();
          toast(result && result.message ? result.message : "Done.");
          selected.clear();
          load();
        } }));
      } }, res.bulkLabel || action.op.summary || humanize(action.verb));
    }), h("button", { type: "button", class: "link", onclick: () => { selected.clear(); load(); } }, "Clear selection"));
  }

  function openCreate() {
    const schema = requestSchema(res.path, "post");
    const fields = fieldsFromSchema(schema, { tenant_id: tenantHint(me), ...res.formHints, ...(res.createHints || {}), ...(res.createHintsFor ? res.createHintsFor(me) : {}) });
    const dlg = dialog(`New ${res.singular}`, renderForm({ fields, submitLabel: "Create", onSubmit: async (values) => {
      const created = await api("POST", res.path, { json: values });
      dlg.close();
      toast(`${humanize(res.singular)} created.`);
      load();
      if (res.afterCreate) res.afterCreate(created, ctx);
    } }));
  }

  async function openItem(row, existing = null) {
    const label = row[res.labelField || "name"] ?? `#${row.id}`;
    const dlg = existing || dialog(`${humanize(res.singular)}: ${label}`, h("p", { class: "muted" }, "Loading…"));
    let item = row;
    if (detailPath) {
      try {
        item = await get(pathFor(detailPath, row.id));
      } catch (error) {
        dlg.setBody(h("p", { class: "form-error" }, error.message));
        return;
      }
    }
    const sections = [];
    if (existing) sections.push(h("p", { class: "notice", role: "status" }, existing.notice || ""));
    const patchSchema = detailPath && requestSchema(detailPath, "patch");
    if (patchSchema) {
      const own = res.editHintsFor ? res.editHintsFor(me, Object.keys(patchSchema.properties || {})) : {};
      const fields = fieldsFromSchema(patchSchema, { ...res.formHints, ...(res.editHints || {}), ...own });
      const extra = [];
      if (writable && has(detailPath, "delete") && res.deletable !== false) {
        extra.push(h("button", { type: "button", class: "danger", onclick: async () => {
          if (!window.confirm(`Delete ${res.singular} “${label}”?`)) return;
          try {
            await api("DELETE", pathFor(detailPath, row.id));
            dlg.close();
            toast(`${humanize(res.singular)} deleted.`);
            load();
          } catch (error) {
            toast(error.message, "error");
          }
        } }, "Delete"));
      }
      sections.push(renderForm({ fields, initial: item, readOnly: !writable, extraButtons: extra, onSubmit: async (values) => {
        if (!Object.keys(values).length) { dlg.close(); return; }
        await api("PATCH", pathFor(detailPath, row.id), { json: values });
        dlg.close();
        toast("Saved.");
        load();
      } }));
    } else {
      sections.push(h("dl", { class: "props" }, Object.entries(item).flatMap(([k, v]) => [h("dt", {}, fieldLabel(k)), h("dd", {}, formatValue(v))])));
    }
    if (writable) {
      for (const action of itemActions(res.path)) {
        if ((res.hiddenActions || []).includes(action.verb)) continue;
        sections.push(actionBlock(action, row, dlg));
      }
    }
    if (res.detail) sections.push(...(await res.detail(item, ctx, { dialog: dlg, reload: load, writable })));
    dlg.setBody(...sections);
  }

  function actionBlock(action, row, dlg) {
    const id = row.id;
    const title = (res.actionLabels || {})[action.verb] || action.op.summary || humanize(action.verb);
    const schema = requestSchema(action.path, action.method);
    const fields = fieldsFromSchema(schema, (res.actionHints || {})[action.verb] || {});
    const result = h("div", { class: "action-result", "aria-live": "polite" });
    const run = async (values) => {
      await api(action.method.toUpperCase(), pathFor(action.path, id), { json: schema ? values : undefined });
      toast(`${title}: done.`);
      load();
      // Show the item again, as it is now (a rotated key, a new expiry date...).
      dlg.notice = `${title}: done.`;
      openItem(row, dlg);
    };
    return h("section", { class: "action" }, h("h3", {}, title), action.op.description ? h("p", { class: "help" }, action.op.description) : null,
      renderForm({ fields, submitLabel: title, onSubmit: run, confirm: res.confirmActions && res.confirmActions.includes(action.verb) ? `${title}?` : null }), result);
  }

  await load();
  return { reload: load };
}
