// Domains and branding (owners and admins): the panel's own host names, with the DNS record
// to create and a check that it points here; the name, colours and logo its watch pages
// and (on its domain) its sign-in page show.

import { api, get } from "../api.js";
import { clear, formatValue, h, toast } from "../dom.js";

function recordText(r) {
  return `${r.name}  ${r.type}  ${r.value}`;
}

export async function domainsPage(main) {
  const list = h("div", { id: "domain-list" });
  const hostInput = h("input", { id: "domain-host", name: "host", placeholder: "tv.example.com", required: true, autocomplete: "off" });
  const addError = h("p", { class: "form-error", role: "alert" });
  const addForm = h("form", { class: "card", "aria-labelledby": "domain-title" },
    h("h2", { id: "domain-title" }, "Add a domain"),
    h("p", { class: "muted" }, "Viewers' apps, playlists and watch pages then work on this name, for your lines only."),
    h("div", { class: "field" }, h("label", { for: "domain-host" }, "Host name"), hostInput),
    addError, h("button", { type: "submit" }, "Add domain"));

  async function check(domain, slot) {
    slot.textContent = "Checking…";
    try {
      const done = await api("POST", `/domains/${domain.id}/check`);
      slot.textContent = done.dns_detail;
      slot.className = done.dns_ok ? "notice" : "form-error";
    } catch (err) {
      slot.textContent = err.message;
    }
  }

  async function remove(domain) {
    try {
      await api("DELETE", `/domains/${domain.id}`);
      await loadDomains();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async function loadDomains() {
    const rows = await get("/domains");
    clear(list, h("h2", {}, "Your domains"), rows.length ? rows.map((d) => {
      const slot = h("p", { class: d.dns_ok ? "notice" : "muted", role: "status" }, d.checked_at ? `${d.dns_detail} (checked ${formatValue(d.checked_at)})` : "Not checked yet.");
      return h("div", { class: "card", dataset: { domain: d.host } },
        h("h3", {}, d.host),
        h("p", {}, "Create this record at your DNS provider:"),
        h("pre", { class: "mono" }, d.records.map(recordText).join("\n")),
        slot,
        h("button", { type: "button", onclick: () => check(d, slot) }, "Check DNS"), " ",
        h("button", { type: "button", class: "danger", onclick: () => remove(d) }, "Remove"));
    }) : h("p", { class: "muted" }, "No domain yet: your panel answers on the platform's address."));
  }

  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    addError.textContent = "";
    try {
      await api("POST", "/domains", { json: { host: hostInput.value.trim() } });
      addForm.reset();
      await loadDomains();
    } catch (err) {
      addError.textContent = err.fields && err.fields.host ? `${err.message} ${err.fields.host}` : err.message;
    }
  });

  const brand = await get("/branding");
  const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
  const nameInput = h("input", { id: "brand-display-name", value: brand.display_name, maxlength: 200 });
  const colourInput = h("input", { id: "brand-primary", value: brand.primary_color, placeholder: "#1a2b3c", pattern: "#[0-9a-fA-F]{6}" });
  const accentInput = h("input", { id: "brand-accent", value: brand.accent_color, placeholder: "#1a2b3c", pattern: "#[0-9a-fA-F]{6}" });
  const brandError = h("p", { class: "form-error", role: "alert" });
  const brandForm = h("form", { class: "card", "aria-labelledby": "brand-title" },
    h("h2", { id: "brand-title" }, "Branding"),
    field("brand-display-name", "Display name", nameInput),
    field("brand-primary", "Main colour (#rrggbb)", colourInput),
    field("brand-accent", "Accent colour (#rrggbb)", accentInput),
    brandError, h("button", { type: "submit" }, "Save branding"));
  brandForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    brandError.textContent = "";
    try {
      await api("PUT", "/branding", { json: { display_name: nameInput.value.trim(), primary_color: colourInput.value.trim(), accent_color: accentInput.value.trim() } });
      toast("Branding saved.");
    } catch (err) {
      brandError.textContent = [err.message, ...Object.values(err.fields || {})].join(" ");
    }
  });
  const logoPreview = h("div", {}, brand.logo_url ? h("img", { src: brand.logo_url, alt: "Current logo", class: "brand-logo" }) : h("p", { class: "muted" }, "No logo."));
  const logoInput = h("input", { id: "brand-logo-file", type: "file", accept: "image/png,image/jpeg,image/gif,image/webp" });
  const logoError = h("p", { class: "form-error", role: "alert" });
  const logoForm = h("form", { class: "card", "aria-labelledby": "logo-title" },
    h("h2", { id: "logo-title" }, "Logo"), logoPreview,
    field("brand-logo-file", "PNG, JPEG, GIF or WebP, at most 256 KiB", logoInput),
    logoError, h("button", { type: "submit" }, "Upload logo"));
  logoForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    logoError.textContent = "";
    if (!logoInput.files.length) return;
    const body = new FormData();
    body.append("file", logoInput.files[0]);
    const { session } = await import("../api.js");
    const response = await fetch("/api/v1/branding/logo", { method: "PUT", headers: { Authorization: `Bearer ${session.token}` }, body });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      logoError.textContent = (data && data.error && data.error.message) || `Upload failed (${response.status}).`;
      return;
    }
    clear(logoPreview, h("img", { src: data.logo_url, alt: "Current logo", class: "brand-logo" }));
  });

  clear(main, h("h1", {}, "Domains & branding"), addForm, list, brandForm, logoForm);
  await loadDomains().catch((err) => toast(err.message, "error"));
  return {};
}
