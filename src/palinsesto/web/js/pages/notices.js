// Notice-and-action for the operator: the inbox of notices (each with what it names here,
// the decisions taken and their statements of reasons, and a form to decide), the
// restrictions in force (lift or review them) and the counter-notices with their restore
// timers (record the notifier's legal action).

import { api, get } from "../api.js";
import { clear, dataTable, formatValue, h, toast } from "../dom.js";
import { dialog, fieldsFromSchema, renderForm } from "../form.js";
import { valueLabel } from "../labels.js";
import { requestSchema } from "../openapi.js";
import { statementView, targetItems, timeLeft } from "./legal_common.js";

const REGIMES = { dsa: "EU DSA Art. 16", dmca: "US DMCA 512(c)" };
const KIND_WORDS = {
  end_sessions: "End the line's plays",
  block_item: "Block the item for the line",
  suspend_line: "Suspend the line",
  disable_item: "Disable the item for everyone",
  suspend_tenant: "Suspend the whole service (platform staff)",
  reject: "Reject the notice (no action)",
};
// What a restriction in force can be reviewed and lifted on (suspending a service: only
// platform staff, who also are the only ones to see such decisions on platform notices).
const LIFTABLE = ["block_item", "suspend_line", "disable_item", "suspend_tenant"];
const kindText = (kind) => KIND_WORDS[kind] || valueLabel(kind);

// A select filter kept in the URL (so reload and back work).
function selectFilter(ctx, id, label, name, options, params) {
  const select = h("select", { id, onchange: () => ctx.navigate(ctx.resource.key, { ...params, [name]: select.value, page: 1 }, { replace: true }) },
    h("option", { value: "" }, "any"), options.map(([v, text]) => h("option", { value: v, selected: params[name] === v }, text)));
  return h("form", { class: "filters", role: "search", "aria-label": `Filter ${ctx.resource.title.toLowerCase()}`, onsubmit: (e) => e.preventDefault() },
    h("div", { class: "field" }, h("label", { for: id }, label), select));
}

function pager(ctx, params, data) {
  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  const go = (page) => ctx.navigate(ctx.resource.key, { ...params, page }, { replace: true });
  return h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", disabled: data.page <= 1, onclick: () => go(data.page - 1) }, "Previous"),
    h("span", {}, `Page ${data.page} of ${pages}`),
    h("button", { type: "button", disabled: data.page >= pages, onclick: () => go(data.page + 1) }, "Next"));
}

function actionSummary(a) {
  const rows = [
    ["Decided", `${formatValue(a.created_at)} by ${a.actor}`],
    ["Applied to", targetItems(a.targets)],
    ["Ends", a.expires_at ? `${formatValue(a.expires_at)} (${timeLeft(a.expires_at)})` : a.kind === "reject" ? "—" : "when lifted"],
    ["Review", a.review_at ? `${formatValue(a.review_at)} (${timeLeft(a.review_at)})` : "—"],
    ["Lifted", a.lifted_at ? `${formatValue(a.lifted_at)} (${valueLabel(a.lift_reason)})` : "—"],
  ];
  return h("section", { class: "card decision", "aria-label": `Decision ${a.id}: ${kindText(a.kind)}` },
    h("h4", {}, kindText(a.kind)),
    h("dl", { class: "props" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    statementView(a.statement),
    a.lift_statement ? statementView(a.lift_statement, "Statement on lifting") : null);
}

// ---- the inbox ----

export async function noticesPage(main, ctx, { params }) {
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" }, "Loading…");
  const slot = h("div", {});
  clear(main, h("h1", {}, "Notice inbox"),
    h("p", { class: "help" }, "Notices about content on this service, from the public notice form and trusted notifiers. Open one to see what it names here and to decide."),
    selectFilter(ctx, "notice-status", "Status", "status", ["received", "actioned", "rejected"].map((v) => [v, valueLabel(v)]), params),
    status, slot);

  async function load() {
    const { open, ...query } = params; // ?open=N opens notice N (a counter-notice links it)
    const data = await get("/notices", { per_page: 25, ...query });
    status.textContent = data.total ? `${data.total} ${data.total === 1 ? "notice" : "notices"}` : params.status ? "No notice with this status." : "No notice yet.";
    clear(slot, data.items.length ? [dataTable("Notices", [
      ["Received", (n) => formatValue(n.received_at)],
      ["From", (n) => h("span", {}, n.notifier_name || "—", n.trusted ? h("span", { class: "badge" }, " trusted") : null)],
      ["Law", (n) => REGIMES[n.regime] || n.regime],
      ["Names here", (n) => targetItems(n.targets)],
      ["Status", (n) => valueLabel(n.status)],
    ], data.items, (n) => h("button", { type: "button", class: "link", onclick: () => openNotice(n.id) }, "Open", h("span", { class: "sr-only" }, ` notice from ${n.notifier_name || "an anonymous notifier"} received ${formatValue(n.received_at)}`))), pager(ctx, params, data)] : null);
  }

  async function openNotice(id, existing = null) {
    const dlg = existing || dialog(`Notice ${id}`, h("p", { class: "muted" }, "Loading…"));
    let notice;
    let actions;
    try {
      [notice, actions] = await Promise.all([get(`/notices/${id}`), get(`/notices/${id}/actions`)]);
    } catch (error) {
      dlg.setBody(h("p", { class: "form-error" }, error.message));
      return;
    }
    const facts = [
      ["Status", valueLabel(notice.status)],
      ["Law", REGIMES[notice.regime] || notice.regime],
      ["Received", formatValue(notice.received_at)],
      ["Receipt", h("code", {}, notice.receipt)],
      ["Notifier", [notice.notifier_name, notice.notifier_email, notice.notifier_address, notice.notifier_phone].filter(Boolean).join(" · ") || "—"],
      ["Trusted notifier", notice.trusted ? "yes" : "no"],
      ["Explanation", notice.explanation || "—"],
      ["Work", notice.work || "—"],
      ["Locations", h("ul", { class: "plain" }, notice.locations.map((l) => h("li", {}, h("code", {}, l))))],
      ["What it names here", targetItems(notice.targets)],
      ["Signature", notice.signature || "—"],
    ];
    const sections = [
      existing && existing.notice ? h("p", { class: "notice", role: "status" }, existing.notice) : null,
      h("dl", { class: "props" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("h3", {}, "Decisions"),
      actions.length ? actions.map(actionSummary) : h("p", { class: "muted" }, "No decision yet."),
    ];
    if (ctx.resource.canWrite(ctx.me)) {
      const platform = ctx.me.role === "platform_admin";
      // A service's own staff cannot suspend their service; platform staff can, and name it
      // on a platform-wide notice (by default: the service whose line the notice names).
      const kinds = Object.entries(KIND_WORDS).filter(([k]) => platform || k !== "suspend_tenant");
      const fields = fieldsFromSchema(requestSchema("/notices/{notice_id}/actions", "post"), {
        kind: { label: "Action", choose: "Choose an action…", options: kinds },
        tenant_id: platform && notice.tenant_id === null
          ? { label: "Service to suspend (id)", help: "Suspending a service only. Empty: the service of the line the notice names." }
          : { hidden: true },
        facts: { label: "Facts the decision relies on", help: "Said to the affected party in the statement of reasons.", widget: "textarea" },
        legal_ground: { label: "Legal ground", help: "The law the content breaks, if any.", example: "Copyright: Art. 171 L. 633/1941" },
        contractual_ground: { label: "Contractual ground", help: "The clause of your terms of service, if any.", example: "Terms §4.2: no redistribution" },
        days: { label: "Lasts (days)", help: "Empty: until lifted after a review." },
        review_days: { label: "Review after (days)", help: "When the restriction appears as due for review." },
      });
      sections.push(h("section", { class: "action" }, h("h3", {}, "Take an action"),
        renderForm({ fields, submitLabel: "Decide", onSubmit: async (values) => {
          const done = await api("POST", `/notices/${id}/actions`, { json: values });
          toast(`${kindText(done.kind)}: done.`);
          dlg.notice = `${kindText(done.kind)}: done. The statement of reasons is below.`;
          await load();
          openNotice(id, dlg);
        } })));
    }
    dlg.setBody(...sections);
  }

  await load().catch((error) => { status.textContent = error.message; });
  if (params.open) openNotice(params.open);
  return { reload: load };
}

// ---- restrictions (the decisions, across notices) ----

export async function restrictionsPage(main, ctx, { params }) {
  const writable = ctx.resource.canWrite(ctx.me);
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" }, "Loading…");
  const slot = h("div", {});
  clear(main, h("h1", {}, "Restrictions"),
    h("p", { class: "help" }, "Decisions taken on notices. A restriction in force can be reviewed (kept, with a next review date) or lifted: the line or item comes back and the affected party gets a statement."),
    selectFilter(ctx, "action-state", "Show", "state", [["in_force", "In force"], ["due_for_review", "Due for review"], ["lifted", "Lifted"]], params),
    status, slot);

  async function load() {
    const data = await get("/notice-actions", { per_page: 25, ...params });
    status.textContent = data.total ? `${data.total} ${data.total === 1 ? "decision" : "decisions"}` : "No decision here.";
    clear(slot, data.items.length ? [dataTable("Decisions", [
      ["Decided", (a) => formatValue(a.created_at)],
      ["Action", (a) => kindText(a.kind)],
      ["Applied to", (a) => targetItems(a.targets)],
      ["Ends", (a) => (a.expires_at ? `${formatValue(a.expires_at)} (${timeLeft(a.expires_at)})` : "—")],
      ["Review", (a) => (a.review_at ? `${formatValue(a.review_at)} (${timeLeft(a.review_at)})` : "—")],
      ["State", (a) => (a.lifted_at ? `Lifted ${formatValue(a.lifted_at)}` : LIFTABLE.includes(a.kind) ? "In force" : "Done")],
    ], data.items, (a) => [
      h("button", { type: "button", class: "link", onclick: () => showStatement(a) }, "Statement", h("span", { class: "sr-only" }, ` of decision ${a.id}`)),
      writable && !a.lifted_at && LIFTABLE.includes(a.kind) && (a.kind !== "suspend_tenant" || ctx.me.role === "platform_admin") ? [
        h("button", { type: "button", class: "link", onclick: () => review(a) }, "Review", h("span", { class: "sr-only" }, ` decision ${a.id}`)),
        h("button", { type: "button", class: "link", onclick: () => liftIt(a) }, "Lift", h("span", { class: "sr-only" }, ` decision ${a.id}`)),
      ] : null,
    ]), pager(ctx, params, data)] : null);
  }

  function showStatement(a) {
    const dlg = dialog(`Decision ${a.id}: ${kindText(a.kind)}`, actionSummary(a));
    dlg.querySelector("details").open = true;
  }

  function liftIt(a) {
    const fields = fieldsFromSchema(requestSchema("/notice-actions/{action_id}/lift", "post"), {
      facts: { label: "Why it ends", help: "Given to the affected party in the statement on lifting.", widget: "textarea" },
    });
    const dlg = dialog(`Lift: ${kindText(a.kind)}`, h("p", {}, "Applied to: ", targetItems(a.targets)),
      renderForm({ fields, submitLabel: "Lift the restriction", onSubmit: async (values) => {
        await api("POST", `/notice-actions/${a.id}/lift`, { json: values });
        dlg.close();
        toast("Restriction lifted.");
        await load();
      } }));
  }

  function review(a) {
    const fields = fieldsFromSchema(requestSchema("/notice-actions/{action_id}/review", "post"), {
      note: { label: "What the review found", example: "The stream is still restreamed" },
      review_days: { label: "Review again after (days)", help: "Empty: no further review." },
    });
    const dlg = dialog(`Review: ${kindText(a.kind)}`, h("p", {}, "Applied to: ", targetItems(a.targets)),
      renderForm({ fields, submitLabel: "Keep it and save the review", onSubmit: async (values) => {
        await api("POST", `/notice-actions/${a.id}/review`, { json: values });
        dlg.close();
        toast("Review saved.");
        await load();
      } }));
  }

  await load().catch((error) => { status.textContent = error.message; });
  return { reload: load };
}

// ---- counter-notices ----

function restoreState(c) {
  if (c.status === "pending") return `Restored ${timeLeft(c.restore_due_at)} (${formatValue(c.restore_due_at)}) unless the notifier goes to court`;
  if (c.status === "restored") return `Restored ${formatValue(c.restored_at)}`;
  if (c.status === "upheld") return `Kept: legal action recorded ${formatValue(c.legal_action_at)}`;
  return "The restriction had ended already";
}

export async function counterNoticesPage(main, ctx, { params }) {
  const writable = ctx.resource.canWrite(ctx.me);
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" }, "Loading…");
  const slot = h("div", {});
  clear(main, h("h1", {}, "Counter-notices"),
    h("p", { class: "help" }, "Objections of the affected party. Unless the notifier reports legal action before the timer runs out, the restriction is lifted by itself."),
    selectFilter(ctx, "counter-status", "Status", "status", ["pending", "restored", "upheld", "moot"].map((v) => [v, valueLabel(v)]), params),
    status, slot);

  async function load() {
    const data = await get("/counter-notices", { per_page: 25, ...params });
    status.textContent = data.total ? `${data.total} ${data.total === 1 ? "counter-notice" : "counter-notices"}` : "No counter-notice.";
    clear(slot, data.items.length ? [dataTable("Counter-notices", [
      ["Received", (c) => formatValue(c.received_at)],
      ["From", (c) => c.name],
      ["Status", (c) => valueLabel(c.status)],
      ["Restore timer", restoreState],
    ], data.items, (c) => [
      h("button", { type: "button", class: "link", onclick: () => open(c) }, "Open", h("span", { class: "sr-only" }, ` counter-notice from ${c.name}`)),
    ]), pager(ctx, params, data)] : null);
  }

  function open(c) {
    const rows = [
      ["Status", valueLabel(c.status)],
      ["Restore timer", restoreState(c)],
      ["Notice", h("a", { href: `#/notices?open=${c.notice_id}` }, `Notice ${c.notice_id}`)],
      ["From", [c.name, c.email, c.address, c.phone].filter(Boolean).join(" · ")],
      ["Explanation", c.explanation],
      ["Signature", c.signature],
      ["Notifier told", formatValue(c.notifier_told_at)],
      ["Legal action", c.legal_action_at ? `${formatValue(c.legal_action_at)}: ${c.legal_action_note}` : "—"],
    ];
    const body = [h("dl", { class: "props" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))];
    let dlg;
    if (writable && c.status === "pending") {
      const fields = fieldsFromSchema(requestSchema("/counter-notices/{counter_id}/legal-action", "post"), {
        note: { label: "Legal action", help: "The court, the case number and the date filed, as the notifier told you.", widget: "textarea" },
      });
      body.push(h("section", { class: "action" }, h("h3", {}, "The notifier went to court"),
        renderForm({ fields, submitLabel: "Record legal action", onSubmit: async (values) => {
          await api("POST", `/counter-notices/${c.id}/legal-action`, { json: values });
          dlg.close();
          toast("Legal action recorded: the restriction stays.");
          await load();
        } })));
    }
    dlg = dialog(`Counter-notice from ${c.name}`, body);
  }

  await load().catch((error) => { status.textContent = error.message; });
  return { reload: load };
}
