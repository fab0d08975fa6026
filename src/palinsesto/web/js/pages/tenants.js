// A new tenant has nobody who can sign in to it yet: right after creating one, the panel
// offers to add its owner (an owner user of that tenant) in the same breath.

import { api, get, getBlob } from "../api.js";
import { dataTable, h, saveBlob, toast } from "../dom.js";
import { dialog, fieldsFromSchema, renderForm } from "../form.js";
import { has, requestSchema } from "../openapi.js";

export function offerOwner(tenant) {
  if (!tenant || !has("/users", "post")) return;
  const schema = requestSchema("/users", "post");
  const wanted = ["username", "password", "email"].filter((name) => schema.properties[name]);
  const props = Object.fromEntries(wanted.map((name) => [name, schema.properties[name]]));
  const required = (schema.required || []).filter((name) => wanted.includes(name));
  const fields = fieldsFromSchema({ ...schema, properties: props, required }, {
    username: { label: "Owner's user name", help: "The person who runs this service signs in with it." },
  });
  const dlg = dialog(`Add the owner of ${tenant.name}`,
    h("p", {}, `${tenant.name} has nobody who can sign in yet. Add its owner now, or later from Resellers & users.`),
    renderForm({ fields, submitLabel: "Add owner", onSubmit: async (values) => {
      await api("POST", "/users", { json: { ...values, role: "owner", tenant_id: tenant.id } });
      dlg.close();
      toast(`Owner ${values.username} added to ${tenant.name}.`);
    } }));
}

// A tenant's metered usage (platform admins): the last 30 days, day by day, with the
// storage it held, and the same figures as CSV or JSON for billing.
const DAYS = 30;
const gb = (v) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(4));

export async function tenantUsage(tenant) {
  const end = new Date();
  const start = new Date(end.getTime() - (DAYS - 1) * 86400_000);
  const params = { start: start.toISOString().slice(0, 10), end: end.toISOString().slice(0, 10), tenant_id: tenant.id };
  const section = h("section", { class: "usage", "aria-labelledby": `usage-${tenant.id}` }, h("h3", { id: `usage-${tenant.id}` }, `Usage, last ${DAYS} days`));
  let report;
  try {
    report = await get("/usage", params);
  } catch (error) {
    section.append(h("p", { class: "form-error" }, error.message));
    return [section];
  }
  const rows = report.items;
  const save = async (format) => {
    try {
      const blob = await getBlob("/usage", { ...params, format });
      saveBlob(blob, `usage-${tenant.slug}-${params.start}-${params.end}.${format}`);
    } catch (error) {
      toast(error.message, "error");
    }
  };
  if (!rows.length) {
    section.append(h("p", { class: "muted" }, "Nothing metered in these days."));
  } else {
    const total = (key) => rows.reduce((sum, r) => sum + r[key], 0);
    section.append(
      h("p", {}, `${total("viewer_hours").toFixed(1)} viewer-hours, peak ${Math.max(...rows.map((r) => r.peak_viewers))} viewers, ${gb(total("egress_gb"))} GB out, up to ${gb(Math.max(...rows.map((r) => r.storage_gb)))} GB stored.`),
      dataTable(`Usage of ${tenant.name} per day`, [
        ["Day", (r) => r.day],
        ["Viewer-hours", (r) => r.viewer_hours.toFixed(2)],
        ["Peak viewers", (r) => String(r.peak_viewers)],
        ["Egress (GB)", (r) => gb(r.egress_gb)],
        ["Storage (GB)", (r) => gb(r.storage_gb)],
      ], rows));
  }
  section.append(h("div", { class: "buttons" },
    h("button", { type: "button", class: "secondary", onclick: () => save("csv") }, "Download CSV"), " ",
    h("button", { type: "button", class: "secondary", onclick: () => save("json") }, "Download JSON")));
  return [section];
}
