// Rights records: who holds the rights to a channel, movie or series, under which licence,
// from when to when and where, with the evidence files (their SHA-256 shown, so a copy kept
// elsewhere can be matched). Expiry alerts (30, 7 and 1 days ahead) come first.

import { api, get } from "../api.js";
import { clear, dataTable, formatValue, h, toast } from "../dom.js";
import { dialog, fieldsFromSchema, renderForm } from "../form.js";
import { valueLabel } from "../labels.js";
import { requestSchema } from "../openapi.js";
import { namesCell } from "../refs.js";
import { tenantHint } from "../table.js";
import { download, timeLeft } from "./legal_common.js";

const KINDS = [
  ["channel", "a channel", "/channels", "Channel"],
  ["movie", "a movie", "/movies", "Movie"],
  ["series", "a series", "/series", "Series"],
];
const PATHS = Object.fromEntries(KINDS.map(([kind, , path]) => [kind, path]));
const MAX_EVIDENCE = 1536 * 1024; // the API's limit per file

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(new Error(`Cannot read ${file.name}.`));
    reader.readAsDataURL(file);
  });
}

function evidenceCell(record) {
  if (!record.evidence.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "plain evidence" }, record.evidence.map((f) => h("li", {},
    h("button", { type: "button", class: "link", onclick: () => download(`/rights/${record.id}/evidence/${f.id}`, f.filename).catch((e) => toast(e.message, "error")) }, f.filename, h("span", { class: "sr-only" }, " (download)")),
    ` · ${f.size.toLocaleString()} bytes`,
    h("br"),
    h("span", { class: "muted" }, "SHA-256 "), h("code", { class: "mono sha256", title: "SHA-256 of the stored file" }, f.sha256))));
}

export async function rightsPage(main, ctx, { params }) {
  const { me } = ctx;
  const writable = ctx.resource.canWrite(me);
  const alerts = h("section", { class: "card", "aria-labelledby": "rights-alerts-title" });
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" }, "Loading…");
  const listSlot = h("div", {});
  const kindFilter = h("select", { id: "rights-kind", onchange: () => ctx.navigate(ctx.resource.key, { item_type: kindFilter.value }, { replace: true }) },
    h("option", { value: "" }, "any"), KINDS.map(([kind, , , label]) => h("option", { value: kind, selected: params.item_type === kind }, label)));
  const toolbar = h("div", { class: "toolbar" }, writable ? KINDS.map(([kind, words]) => h("button", { type: "button", class: kind === "channel" ? "" : "secondary", onclick: () => openCreate(kind) }, `Record rights for ${words}`)) : null);
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter rights records", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "field" }, h("label", { for: "rights-kind" }, "Kind of item"), kindFilter));
  clear(main, h("h1", {}, "Rights"),
    h("p", { class: "help" }, "With rights required for this service, an item without a current record is not distributed: players, playlists and the guide leave it out."),
    alerts, toolbar, filters, status, listSlot);

  async function loadAlerts() {
    const rows = await get("/rights/expiring");
    clear(alerts, h("h2", { id: "rights-alerts-title" }, "Expiry alerts"), rows.length
      ? h("ul", { class: "plain" }, rows.map((e) => h("li", { class: e.alert_days <= 7 ? "level-problem" : "level-warning" },
        `${valueLabelOf(e.record.item_type)} `, h("strong", {}, namesCell(PATHS[e.record.item_type], e.record.item_id)),
        `: rights of ${e.record.holder} end ${timeLeft(e.record.ends_at)} (${formatValue(e.record.ends_at)}; ${e.alert_days}-day alert).`)))
      : h("p", { class: "muted" }, "No rights record ends within 30 days."));
  }

  async function load() {
    const rows = await get("/rights", params.item_type ? { item_type: params.item_type } : {});
    status.textContent = rows.length ? `${rows.length} ${rows.length === 1 ? "rights record" : "rights records"}` : "No rights record yet.";
    clear(listSlot, rows.length ? dataTable("Rights records", [
      ["Item", (r) => h("span", {}, `${valueLabelOf(r.item_type)} `, h("strong", {}, namesCell(PATHS[r.item_type], r.item_id)))],
      ["Holder", (r) => r.holder],
      ["Licence", (r) => r.licence_ref || "—"],
      ["From", (r) => formatValue(r.starts_at)],
      ["Until", (r) => (r.ends_at ? `${formatValue(r.ends_at)} (${timeLeft(r.ends_at)})` : "open-ended")],
      ["Territories", (r) => (r.territories.length ? r.territories.join(", ") : "everywhere")],
      ["Status", (r) => valueLabel(r.status)],
      ["Evidence", evidenceCell],
    ], rows, writable ? (r) => h("button", { type: "button", class: "link danger", onclick: () => remove(r) }, "Delete", h("span", { class: "sr-only" }, ` rights record of ${r.holder}`)) : null)
      : h("section", { class: "card empty", "aria-label": "No rights records yet" }, h("h2", {}, "No rights records yet"),
        h("p", {}, "Record who licensed each channel, movie or series to you, with the contract as evidence.")));
  }

  async function remove(record) {
    if (!window.confirm(`Delete the rights record of ${record.holder}?`)) return;
    try {
      await api("DELETE", `/rights/${record.id}`);
      toast("Rights record deleted.");
      await Promise.all([load(), loadAlerts()]);
    } catch (error) {
      toast(error.message, "error");
    }
  }

  function openCreate(kind) {
    const [, words, path, label] = KINDS.find(([k]) => k === kind);
    const fields = fieldsFromSchema(requestSchema("/rights", "post"), {
      tenant_id: tenantHint(me),
      item_type: { hidden: true },
      evidence: { hidden: true },
      item_id: { widget: "ref", ref: { path, label: "name" }, label, nullable: false },
      holder: { label: "Rights holder", help: "Who licensed it to you.", example: "Lega Calcio Media Srl" },
      licence_ref: { label: "Licence reference", help: "The contract's number or name.", example: "LIC-2026-044" },
      starts_at: { label: "Valid from" },
      ends_at: { label: "Valid until", help: "Empty: no end date." },
      territories: { label: "Territories", help: "Two-letter country codes, comma-separated; empty: everywhere.", example: "IT, SM, VA" },
    });
    const files = h("input", { id: "rights-evidence", type: "file", multiple: true });
    const evidence = h("div", { class: "field" }, h("label", { for: "rights-evidence" }, "Evidence files"), files,
      h("p", { class: "help" }, "The contract or licence (PDF, image…), up to 1.5 MiB each; stored with its SHA-256."));
    const form = renderForm({ fields, submitLabel: "Save rights record", onSubmit: async (values) => {
      const chosen = [...files.files];
      const big = chosen.find((f) => f.size > MAX_EVIDENCE || f.size === 0);
      if (big) throw new Error(`${big.name} is ${big.size ? "larger than 1.5 MiB" : "empty"}.`);
      const evidenceFiles = await Promise.all(chosen.map(async (f) => ({ filename: f.name, content_type: f.type || "application/octet-stream", content_base64: await readBase64(f) })));
      await api("POST", "/rights", { json: { ...values, item_type: kind, evidence: evidenceFiles } });
      dlg.close();
      toast("Rights record saved.");
      await Promise.all([load(), loadAlerts()]);
    } });
    const starts = form.querySelector('[name="starts_at"]');
    if (starts && !starts.value) {
      const d = new Date();
      const pad = (n) => String(n).padStart(2, "0");
      starts.value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    }
    form.insertBefore(evidence, form.querySelector(".form-error"));
    const dlg = dialog(`Rights for ${words}`, form);
  }

  await Promise.all([load(), loadAlerts()]).catch((error) => { status.textContent = error.message; });
  return { reload: load };
}

function valueLabelOf(kind) {
  return { channel: "Channel", movie: "Movie", series: "Series" }[kind] || kind;
}
