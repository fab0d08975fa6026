// M3U import: a wizard (source → preview with counts → where the channels go → result)
// and the M3U sources the panel re-imports on a schedule, each with "Refresh now".

import { api, get } from "../api.js";
import { clear, formatValue, h, nextId, toast } from "../dom.js";
import { dialog, fieldsFromSchema, renderForm } from "../form.js";
import { has, requestSchema } from "../openapi.js";
import { namesCell } from "../refs.js";
import { MANAGERS } from "../roles.js";

const plural = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

function labelled(label, control, help = "") {
  control.id = control.id || nextId("m3u");
  const helpId = help ? `${control.id}-help` : null;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  return h("div", { class: "field" }, h("div", { class: "label-row" }, h("label", { for: control.id }, label)), control, help ? h("p", { class: "help", id: helpId }, help) : null);
}

async function choices(path, params, label = "name") {
  const page = await get(path, { per_page: 200, ...params }).catch(() => ({ items: [] }));
  return page.items.map((row) => h("option", { value: row.id }, row[label]));
}

function multipart(source, extra = {}) {
  const data = new FormData();
  if (source.file) data.append("file", source.file, source.file.name);
  else data.append("url", source.url);
  for (const [key, value] of Object.entries(extra)) if (value) data.append(key, value);
  return data;
}

function hostOf(url) {
  try {
    return new URL(url).hostname;
  } catch {
    return "playlist";
  }
}

function summaryText(s) {
  const parts = [`${s.created} created`, `${s.updated} updated`, `${s.unchanged} unchanged`];
  if (s.disabled) parts.push(`${s.disabled} disabled (gone from the list)`);
  if (s.enabled_again) parts.push(`${s.enabled_again} back in the list`);
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  if (s.added_to_bouquet) parts.push(`${s.added_to_bouquet} added to the bouquet`);
  return parts.join(", ");
}

function statusText(source) {
  if (!source.last_status) return "Not run yet";
  if (source.last_status === "failed") {
    const times = source.consecutive_failures > 1 ? ` (${source.consecutive_failures} times in a row)` : "";
    return `Failed${times}: ${source.last_error}`;
  }
  return `OK: ${summaryText(source.last_summary)}`;
}

export async function m3uPage(main, ctx) {
  const manager = MANAGERS.includes(ctx.me.role) && has("/m3u/import", "post");
  const sourcesBox = h("section", { class: "card", "aria-labelledby": "m3u-sources-title" });
  const wizard = manager ? importWizard(ctx, () => loadSources()) : null;
  clear(main, h("h1", {}, "M3U import"),
    h("p", { class: "help" }, "Bring a provider's playlist in as channels: preview what changes, choose where they go, and optionally keep the list in step on a schedule."),
    wizard, sourcesBox);

  async function loadSources() {
    let data;
    try {
      data = await get("/m3u/sources", { per_page: 100 });
    } catch (error) {
      clear(sourcesBox, h("h2", { id: "m3u-sources-title" }, "M3U sources"), h("p", { class: "form-error" }, error.message));
      return;
    }
    const head = h("tr", {}, ["Name", "Address", "Category", "Bouquet", "Every", "Last run", "Status", "Next run", "Channels"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")));
    const rows = data.items.map((s) => h("tr", {},
      h("td", { "data-label": "Name" }, s.name),
      h("td", { "data-label": "Address", class: "mono" }, s.url),
      h("td", { "data-label": "Category" }, s.category_id ? namesCell("/categories", s.category_id) : "From group titles"),
      h("td", { "data-label": "Bouquet" }, s.bouquet_id ? namesCell("/bouquets", s.bouquet_id) : "—"),
      h("td", { "data-label": "Every" }, s.enabled ? plural(s.refresh_hours, "hour") : "Paused"),
      h("td", { "data-label": "Last run" }, formatValue(s.last_run_at)),
      h("td", { "data-label": "Status", class: s.last_status === "failed" ? "bad" : "" }, statusText(s)),
      h("td", { "data-label": "Next run" }, formatValue(s.next_run_at)),
      h("td", { "data-label": "Channels" }, String(s.channels)),
      h("td", { class: "actions" }, manager ? [
        h("button", { type: "button", class: "small", onclick: async (e) => {
          e.currentTarget.disabled = true;
          try {
            const after = await api("POST", `/m3u/sources/${s.id}/refresh`);
            toast(after.last_status === "failed" ? `Refresh failed: ${after.last_error}` : `Refreshed: ${summaryText(after.last_summary)}.`, after.last_status === "failed" ? "error" : "info");
          } catch (error) {
            toast(error.message, "error");
          }
          loadSources();
        } }, "Refresh now", h("span", { class: "sr-only" }, ` ${s.name}`)),
        h("button", { type: "button", class: "link", onclick: () => editSource(s) }, "Edit", h("span", { class: "sr-only" }, ` ${s.name}`)),
        h("button", { type: "button", class: "link danger", onclick: async () => {
          if (!window.confirm(`Forget the M3U source “${s.name}”? Its channels stay.`)) return;
          await api("DELETE", `/m3u/sources/${s.id}`).catch((error) => toast(error.message, "error"));
          loadSources();
        } }, "Delete", h("span", { class: "sr-only" }, ` ${s.name}`)),
      ] : null)));
    clear(sourcesBox, h("h2", { id: "m3u-sources-title" }, "M3U sources"),
      h("p", { class: "help" }, "Playlists re-imported on their schedule: new entries become channels, changed addresses are updated, and channels gone from the list are disabled."),
      data.items.length
        ? h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { class: "sr-only" }, "M3U sources"), h("thead", {}, head), h("tbody", {}, rows)))
        : h("p", { class: "muted" }, manager ? "None yet: import a playlist from an address and tick “Refresh this playlist automatically”." : "None yet."));
  }

  function editSource(source) {
    const path = "/m3u/sources/{source_id}";
    const fields = fieldsFromSchema(requestSchema(path, "patch"), {
      url: { hidden: true },
      category_id: { widget: "ref", ref: { path: "/categories", params: { kind: "live" }, label: "name" }, label: "Category", nullable: true, help: "Empty: each group title becomes a category." },
      bouquet_id: { widget: "ref", ref: { path: "/bouquets", label: "name" }, label: "Bouquet", nullable: true },
      enabled: { label: "Refresh on schedule" },
    });
    const dlg = dialog(`M3U source: ${source.name}`, renderForm({ fields, initial: source, onSubmit: async (values) => {
      if (Object.keys(values).length) await api("PATCH", `/m3u/sources/${source.id}`, { json: values });
      dlg.close();
      toast("Saved.");
      loadSources();
    } }));
  }

  await loadSources();
  return { reload: loadSources };
}

function importWizard(ctx, onSourcesChanged) {
  const box = h("section", { class: "card", "aria-labelledby": "m3u-import-title" });
  const steps = h("div", { class: "steps" });
  let source = null;

  // 1. Source: an address or a file.
  const fromUrl = h("input", { type: "radio", name: "m3u-from", value: "url", id: nextId("m3u"), checked: true });
  const fromFile = h("input", { type: "radio", name: "m3u-from", value: "file", id: nextId("m3u") });
  const url = h("input", { type: "url", placeholder: "e.g. https://provider.example/get.php?username=…&password=…", autocomplete: "off" });
  const file = h("input", { type: "file", accept: ".m3u,.m3u8,audio/x-mpegurl,audio/mpegurl,text/plain" });
  const urlField = labelled("Playlist address", url, "Fetched by the server; the password in it is never shown again.");
  const fileField = labelled("Playlist file", file);
  fileField.hidden = true;
  const toggle = () => { urlField.hidden = !fromUrl.checked; fileField.hidden = fromUrl.checked; };
  fromUrl.addEventListener("change", toggle);
  fromFile.addEventListener("change", toggle);
  const error = h("p", { class: "form-error", role: "alert" });
  // A platform admin imports into a tenant it names.
  const platform = ctx.me.role === "platform_admin";
  const tenant = platform ? h("select", { required: true }, h("option", { value: "" }, "Choose a tenant…")) : null;
  if (tenant) choices("/tenants", {}).then((options) => tenant.append(...options));
  const sourceForm = h("form", { class: "form", "aria-label": "Playlist source" },
    tenant ? labelled("Tenant", tenant) : null,
    h("fieldset", {}, h("legend", {}, "Where is the playlist?"),
      h("div", { class: "field field-checkbox" }, fromUrl, h("label", { for: fromUrl.id }, "At an address")),
      h("div", { class: "field field-checkbox" }, fromFile, h("label", { for: fromFile.id }, "In a file on this computer"))),
    urlField, fileField, error,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Preview")));
  sourceForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    source = fromUrl.checked ? { url: url.value.trim() } : { file: file.files[0] };
    source.tenantId = tenant ? tenant.value : "";
    if (tenant && !tenant.value) {
      error.textContent = "Choose the tenant the channels are for.";
      return;
    }
    if (fromUrl.checked ? !source.url : !source.file) {
      error.textContent = fromUrl.checked ? "Give the playlist's address." : "Choose a playlist file.";
      return;
    }
    clear(steps, h("p", { class: "muted", role: "status" }, "Reading the playlist…"));
    try {
      const preview = await api("POST", "/m3u/preview", { multipart: multipart(source, { tenant_id: source.tenantId }) });
      clear(steps, await previewStep(preview));
    } catch (err) {
      clear(steps);
      error.textContent = err.message;
    }
  });

  // 2. Preview, and 3. where the channels go.
  async function previewStep(p) {
    const counts = h("p", { class: "counts", role: "status" },
      `${plural(p.total_entries, "entry", "entries")}: ${p.new} new, ${p.updated} updated, ${p.unchanged} unchanged, ${p.skipped} skipped.`);
    const shown = p.entries.length < p.total_entries ? h("p", { class: "muted" }, `The first ${p.entries.length} entries:`) : null;
    const table = h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { class: "sr-only" }, "Playlist entries"),
      h("thead", {}, h("tr", {}, ["Line", "Name", "Group", "EPG id", "Stream host", "Status"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, p.entries.map((e) => h("tr", {},
        h("td", { "data-label": "Line" }, String(e.line)),
        h("td", { "data-label": "Name" }, e.name),
        h("td", { "data-label": "Group" }, e.group || "—"),
        h("td", { "data-label": "EPG id" }, e.tvg_id || "—"),
        h("td", { "data-label": "Stream host", class: "mono" }, e.host),
        h("td", { "data-label": "Status" }, e.status === "new" ? "New" : "Already there"))))));
    const problems = p.errors.length ? h("section", { "aria-label": "Problems" }, h("h3", {}, "Skipped entries"),
      h("ul", { class: "errors" }, p.errors.map((e) => h("li", {}, `Line ${e.line}: ${e.message}`)))) : null;
    const scope = source.tenantId ? { tenant_id: source.tenantId } : {};
    const [categories, bouquets] = await Promise.all([choices("/categories", { kind: "live", ...scope }), choices("/bouquets", scope)]);
    const category = h("select", {}, h("option", { value: "" }, "Each group becomes a category"), categories);
    const bouquet = h("select", {}, h("option", { value: "" }, "No bouquet"), bouquets);
    const schedule = h("input", { type: "checkbox", id: nextId("m3u") });
    const hours = h("input", { type: "number", min: 1, max: 720, value: 24, inputmode: "numeric" });
    const name = h("input", { type: "text", value: source.url ? hostOf(source.url) : "", maxlength: 200 });
    const scheduleFields = h("div", { hidden: true }, labelled("Refresh every (hours)", hours), labelled("Source name", name, "How the list of M3U sources names it."));
    schedule.addEventListener("change", () => { scheduleFields.hidden = !schedule.checked; });
    const failure = h("p", { class: "form-error", role: "alert" });
    const result = h("div", { "aria-live": "polite" });
    const target = h("form", { class: "form", "aria-label": "Where the channels go" },
      h("h3", {}, "Where the channels go"),
      labelled("Category", category),
      labelled("Bouquet", bouquet, "The imported channels join it (at its end)."),
      source.url ? h("div", { class: "field field-checkbox" }, schedule, h("label", { for: schedule.id }, "Refresh this playlist automatically")) : null,
      source.url ? scheduleFields : null,
      failure,
      h("div", { class: "buttons" }, h("button", { type: "submit" }, "Import")));
    target.addEventListener("submit", async (event) => {
      event.preventDefault();
      failure.textContent = "";
      const button = target.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        let summary;
        if (source.url && schedule.checked) {
          const created = await api("POST", "/m3u/sources", { json: {
            name: name.value.trim() || hostOf(source.url), url: source.url, refresh_hours: Number(hours.value) || 24,
            category_id: category.value ? Number(category.value) : null, bouquet_id: bouquet.value ? Number(bouquet.value) : null,
            ...(source.tenantId ? { tenant_id: Number(source.tenantId) } : {}),
          } });
          const ran = await api("POST", `/m3u/sources/${created.id}/refresh`);
          if (ran.last_status === "failed") throw new Error(ran.last_error);
          summary = { ...ran.last_summary, note: `Saved as the M3U source “${ran.name}”, refreshed every ${plural(ran.refresh_hours, "hour")}.` };
          onSourcesChanged();
        } else {
          const done = await api("POST", "/m3u/import", { multipart: multipart(source, { category_id: category.value, bouquet_id: bouquet.value, tenant_id: source.tenantId }) });
          summary = done;
        }
        clear(result, h("section", { class: "notice", role: "status", "aria-label": "Import result" },
          h("h3", {}, "Imported"), h("p", {}, `${summaryText(summary)}.`), summary.note ? h("p", {}, summary.note) : null,
          h("p", {}, h("a", { href: "#/channels" }, "See the channels"))));
        toast("Playlist imported.");
      } catch (err) {
        failure.textContent = err.message;
      } finally {
        button.disabled = false;
      }
    });
    return [h("h3", {}, "Preview"), counts, shown, table, problems, target, result];
  }

  clear(box, h("h2", { id: "m3u-import-title" }, "Import a playlist"), sourceForm, steps);
  return box;
}
