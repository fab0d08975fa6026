// Legal settings of a service: who operates it (its public operator page and security.txt
// say so), how long client addresses are kept (retention), whether distribution needs a
// rights record, and its transparency report (figures here, the published page linked).
// Platform admins pick the tenant first.

import { api, get } from "../api.js";
import { clear, h, toast } from "../dom.js";
import { fieldsFromSchema, renderForm } from "../form.js";
import { requestSchema } from "../openapi.js";

function seconds(value) {
  if (value === null || value === undefined) return "—";
  if (value < 120) return `${Math.round(value)} s`;
  if (value < 7200) return `${Math.round(value / 60)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

function reportView(report, publicUrl) {
  const rows = [
    ["Notices received", report.notices],
    ["From trusted notifiers", report.from_trusted_notifiers],
    ["Actioned", report.by_status.actioned],
    ["Rejected", report.by_status.rejected],
    ["Waiting for a decision", report.by_status.received],
    ["Median time to first action", seconds(report.median_seconds_to_action)],
    ["Median time to decision", seconds(report.median_seconds_to_decision)],
    ["Counter-notices", report.counter_notices.received],
    ["Restored after a counter-notice", report.restorations],
    ["Ended at their expiry", report.expired_restrictions_lifted],
    ["Lifted after a review", report.lifted_after_review],
  ];
  return [
    h("dl", { class: "props" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v ?? 0))])),
    h("p", {}, h("a", { href: publicUrl, target: "_blank", rel: "noopener" }, "Open the published transparency report"), " (HTML; add ", h("code", {}, "?since=…&until=…"), " for another period)."),
  ];
}

export async function legalSettingsPage(main, ctx, { params }) {
  const { me } = ctx;
  const slot = h("div", {});
  let picker = null;
  if (me.role === "platform_admin") {
    const tenants = (await get("/tenants", { per_page: 500 })).items;
    picker = h("form", { class: "filters", role: "search", "aria-label": "Choose a tenant", onsubmit: (e) => e.preventDefault() },
      h("div", { class: "field" }, h("label", { for: "legal-tenant" }, "Tenant"),
        h("select", { id: "legal-tenant", onchange: (e) => ctx.navigate(ctx.resource.key, { tenant: e.target.value }, { replace: true }) },
          h("option", { value: "" }, "Choose a tenant…"), tenants.map((t) => h("option", { value: t.id, selected: String(t.id) === params.tenant }, t.name)))));
  }
  clear(main, h("h1", {}, "Legal settings"), picker, slot);
  const tenantId = me.role === "platform_admin" ? Number(params.tenant) || null : me.tenant_id;
  if (!tenantId) {
    slot.append(h("p", { class: "muted" }, "Choose a tenant to see its legal settings."));
    return {};
  }

  const [operator, tenant, report] = await Promise.all([
    get(`/tenants/${tenantId}/operator`),
    get(`/tenants/${tenantId}`),
    get("/transparency-report", me.role === "platform_admin" ? { tenant_id: tenantId } : {}),
  ]);
  const effective = h("p", { class: "notice", role: "status" });
  const showEffective = (o) => {
    effective.textContent = `Now: client addresses are cut to their network after ${o.effective_ip_truncate_days} days and removed after ${o.effective_ip_remove_days} days.`;
  };
  showEffective(operator);

  const operatorFields = fieldsFromSchema(requestSchema("/tenants/{tenant_id}/operator", "put"), {
    operator_name: { label: "Operator (legal entity)", example: "Acme Media Srl" },
    operator_address: { label: "Postal address", example: "Via Roma 1, 00100 Roma, Italy" },
    operator_email: { label: "Legal contact e-mail", example: "legal@acme.example" },
    security_contact: { label: "Security contact", help: "mailto: or https: address; security.txt names it.", example: "mailto:security@acme.example" },
    ip_truncate_days: { label: "Cut client addresses after (days)", help: "To their /24 (IPv4) or /48 (IPv6). Empty: the platform's default." },
    ip_remove_days: { label: "Remove client addresses after (days)", help: "Empty: the platform's default." },
  });
  for (const f of operatorFields) f.value = operator[f.name];
  const operatorForm = renderForm({ fields: operatorFields, submitLabel: "Save legal settings", onSubmit: async (values) => {
    const saved = await api("PUT", `/tenants/${tenantId}/operator`, { json: values });
    showEffective(saved);
    toast("Legal settings saved.");
  } });

  const rightsBox = h("input", { id: "rights-required", type: "checkbox", checked: Boolean(tenant.rights_required), disabled: me.role !== "platform_admin" });
  rightsBox.addEventListener("change", async () => {
    try {
      await api("PATCH", `/tenants/${tenantId}`, { json: { rights_required: rightsBox.checked } });
      toast(rightsBox.checked ? "Distribution now needs a rights record." : "Rights records are no longer required.");
    } catch (error) {
      rightsBox.checked = !rightsBox.checked;
      toast(error.message, "error");
    }
  });
  const base = location.origin;
  clear(slot,
    h("section", { class: "card", "aria-labelledby": "operator-title" }, h("h2", { id: "operator-title" }, "Operator and retention"),
      h("p", { class: "help" }, "Shown on the public operator page and in security.txt; the retention applies to stored client addresses (audit log, notices, counter-notices)."),
      effective, operatorForm,
      h("p", {}, h("a", { href: operator.page, target: "_blank", rel: "noopener" }, "Public operator page"), " · ",
        h("a", { href: `${base}/t/${tenant.slug}/.well-known/security.txt`, target: "_blank", rel: "noopener" }, "security.txt"), " · ",
        h("a", { href: `${base}/notice?service=${encodeURIComponent(tenant.slug)}`, target: "_blank", rel: "noopener" }, "Public notice form"))),
    h("section", { class: "card", "aria-labelledby": "rights-required-title" }, h("h2", { id: "rights-required-title" }, "Rights required"),
      h("div", { class: "field field-checkbox" }, rightsBox, h("label", { for: "rights-required" }, "Distribute only items with a current rights record")),
      me.role === "platform_admin" ? null : h("p", { class: "help" }, "The platform's administrator sets this.")),
    h("section", { class: "card", "aria-labelledby": "report-title" }, h("h2", { id: "report-title" }, "Transparency report, last 30 days"),
      reportView(report, `${base}/t/${tenant.slug}/transparency`)));
  return {};
}
