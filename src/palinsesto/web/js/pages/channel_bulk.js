// Several channels at once: set a category, join or leave a bouquet, enable or disable,
// choose a transcode profile, or delete them, in one call (PATCH /channels: all or none).

import { api, get } from "../api.js";
import { h, nextId, toast } from "../dom.js";
import { dialog } from "../form.js";
import { valueLabel } from "../labels.js";
import { requestSchema, resolve } from "../openapi.js";

const NO_CHANGE = "No change";

function field(label, control) {
  control.id = control.id || nextId("bulk");
  return h("div", { class: "field" }, h("div", { class: "label-row" }, h("label", { for: control.id }, label)), control);
}

async function options(path, params, label = "name") {
  const page = await get(path, { per_page: 200, ...params }).catch(() => ({ items: [] }));
  return page.items.map((row) => h("option", { value: row.id }, row[label]));
}

function profileOptions() {
  const changes = resolve((requestSchema("/channels", "patch") || { properties: {} }).properties.changes || {});
  const profile = resolve((changes.properties || {}).transcode_profile || {});
  const labels = profile["x-enum-labels"] || {};
  return (profile.enum || []).map((v) => h("option", { value: v }, labels[v] || valueLabel(v)));
}

export async function channelBulkEdit(ids, ctx, done) {
  const count = `${ids.length} ${ids.length === 1 ? "channel" : "channels"}`;
  const dlg = dialog(`Edit ${count}`, h("p", { class: "muted" }, "Loading…"));
  const [categories, bouquets] = await Promise.all([options("/categories", { kind: "live" }), options("/bouquets", {})]);
  const bouquetSelect = () => h("select", {}, h("option", { value: "" }, NO_CHANGE), bouquets.map((o) => o.cloneNode(true)));
  const category = h("select", {}, h("option", { value: "" }, NO_CHANGE), categories);
  const join = bouquetSelect();
  const leave = bouquetSelect();
  const enabled = h("select", {}, h("option", { value: "" }, NO_CHANGE), h("option", { value: "true" }, "Enabled"), h("option", { value: "false" }, "Disabled"));
  const profile = h("select", {}, h("option", { value: "" }, NO_CHANGE), profileOptions());
  const remove = h("input", { type: "checkbox", id: nextId("bulk") });
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "form" },
    field("Set category", category),
    field("Add to bouquet", join),
    field("Remove from bouquet", leave),
    field("Status", enabled),
    field("Transcode profile", profile),
    h("div", { class: "field field-checkbox" }, remove, h("label", { for: remove.id }, `Delete these ${count} instead`)),
    error,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, `Apply to ${count}`)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const changes = {};
    if (category.value) changes.category_ids = [Number(category.value)];
    if (join.value) changes.add_to_bouquet_ids = [Number(join.value)];
    if (leave.value) changes.remove_from_bouquet_ids = [Number(leave.value)];
    if (enabled.value) changes.enabled = enabled.value === "true";
    if (profile.value) changes.transcode_profile = profile.value;
    if (remove.checked && !window.confirm(`Delete ${count}? This cannot be undone.`)) return;
    if (!remove.checked && !Object.keys(changes).length) {
      error.textContent = "Choose at least one change.";
      return;
    }
    try {
      const result = await api("PATCH", "/channels", { json: remove.checked ? { ids, delete: true } : { ids, changes } });
      dlg.close();
      toast(result.deleted ? `${result.deleted} deleted.` : `${result.updated} ${result.updated === 1 ? "channel" : "channels"} updated.`);
      done();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  dlg.setBody(form);
}
