// Syndication between panels. "Offers" (the channel's owner): offer a channel privately to
// one panel (by the partner code that panel gave) or in the directory, on terms; approve,
// refuse or revoke partners; see each partner's audience as counts. "Directory" (the
// partner): this panel's own partner code to hand out, what is offered, and its requests.
// The server enforces every rule; this page only asks.

import { api, get } from "../api.js";
import { clear, formatValue, h, toast } from "../dom.js";

const field = (id, label, input, hint) => h("div", { class: "field" },
  h("label", { for: id }, label), input, hint ? h("p", { class: "muted" }, hint) : null);

function table(caption, headings, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "table-wrap" }, h("table", { class: "data" },
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows)));
}

function terms(offer, { owner = false } = {}) {
  const parts = [offer.partner_tenant_id ? (owner && offer.partner_name ? `private to ${offer.partner_name}` : "private") : "public"];
  parts.push(offer.until ? `until ${formatValue(offer.until)}` : "no end date");
  parts.push(offer.territories.length ? offer.territories.join(" ") : "worldwide");
  if (offer.max_viewers) parts.push(`${offer.max_viewers} viewers at once per partner`);
  if (offer.max_viewers_total) parts.push(`${offer.max_viewers_total} viewers at once in all`);
  if (!offer.max_viewers && !offer.max_viewers_total) parts.push("no viewer cap");
  parts.push(offer.paid_bouquets ? "paid bouquets allowed" : "free bouquets only");
  if (offer.auto_approve) parts.push("approved at once");
  return parts.join(" · ");
}

async function act(method, path, done, message) {
  try {
    await api(method, path);
    toast(message);
    await done();
  } catch (err) {
    toast(err.message, "error");
  }
}

export async function offersPage(main, _ctx, { params = {} } = {}) {
  const channels = (await get("/channels", { per_page: 500, sort: "name" })).items.filter((c) => !c.syndication_id);
  const channelSelect = h("select", { id: "offer-channel", name: "channel_id", required: true },
    channels.map((c) => h("option", { value: c.id, selected: String(c.id) === params.channel_id }, c.name)));
  const partnerInput = h("input", { id: "offer-partner", name: "partner_code", autocomplete: "off", spellcheck: "false", placeholder: "e.g. 7KQM-3XPA-9DTR (empty: public)" });
  const untilInput = h("input", { id: "offer-until", name: "until", type: "datetime-local" });
  const territoriesInput = h("input", { id: "offer-territories", name: "territories", placeholder: "IT FR DE (empty: worldwide)" });
  const viewersInput = h("input", { id: "offer-viewers", name: "max_viewers", type: "number", min: 1 });
  const totalInput = h("input", { id: "offer-total", name: "max_viewers_total", type: "number", min: 1 });
  const paidInput = h("input", { id: "offer-paid", name: "paid_bouquets", type: "checkbox" });
  const autoInput = h("input", { id: "offer-auto", name: "auto_approve", type: "checkbox" });
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "card", "aria-labelledby": "offer-title" },
    h("h2", { id: "offer-title" }, "Offer a channel"),
    field("offer-channel", "Channel", channelSelect),
    field("offer-partner", "Only to the panel with partner code", partnerInput,
      "A private offer: ask the partner for the code its Directory page shows. Leave empty to offer it to every panel in the directory."),
    field("offer-until", "Until", untilInput, "Leave empty for no end date."),
    field("offer-territories", "Countries", territoriesInput, "ISO codes, separated by spaces."),
    field("offer-viewers", "Each partner's viewers at once", viewersInput, "Empty: no cap per partner."),
    field("offer-total", "All partners' viewers at once", totalInput, "Counted over every partner together. Empty: no total cap."),
    h("div", { class: "field" }, h("label", {}, paidInput, " The partner may sell it in paid bouquets")),
    h("div", { class: "field" }, h("label", {}, autoInput, " Approve requests at once")),
    error, h("button", { type: "submit", disabled: !channels.length }, "Offer"));
  const offersSlot = h("section", { id: "offers", "aria-labelledby": "offers-title" });
  const partnersSlot = h("section", { id: "partners", "aria-labelledby": "partners-title" });
  const audienceSlot = h("section", { id: "partner-audience", "aria-labelledby": "audience-title" });

  async function load() {
    const [offers, partners, audience] = await Promise.all([
      get("/syndication/offers"), get("/syndication/partners"), get("/syndication/audience")]);
    clear(offersSlot, h("h2", { id: "offers-title" }, "Your offers"), table("Your offers",
      ["Channel", "Terms", "Status", ""],
      offers.map((o) => h("tr", { dataset: { offer: o.id } },
        h("td", {}, o.channel_name), h("td", {}, terms(o, { owner: true })), h("td", {}, o.status),
        h("td", { class: "actions" }, o.status === "open"
          ? h("button", { type: "button", class: "danger", onclick: () => act("POST", `/syndication/offers/${o.id}/withdraw`, load, "Offer withdrawn.") }, "Withdraw")
          : null))),
      "No offer yet."));
    clear(partnersSlot, h("h2", { id: "partners-title" }, "Requests and partners"), table("Requests and partners",
      ["Panel", "Channel", "Status", "Since", ""],
      partners.map((p) => h("tr", { dataset: { syndication: p.id, partner: p.partner_name } },
        h("td", {}, p.partner_name), h("td", {}, p.channel_name), h("td", {}, p.status),
        h("td", {}, formatValue(p.decided_at || p.requested_at)),
        h("td", { class: "actions" },
          p.status === "requested" ? [
            h("button", { type: "button", onclick: () => act("POST", `/syndication/partners/${p.id}/approve`, load, `${p.partner_name} may carry ${p.channel_name}.`) }, "Approve"), " ",
            h("button", { type: "button", class: "danger", onclick: () => act("POST", `/syndication/partners/${p.id}/refuse`, load, "Request refused.") }, "Refuse")] : null,
          p.status === "active"
            ? h("button", { type: "button", class: "danger", onclick: () => act("POST", `/syndication/partners/${p.id}/revoke`, load, "Revoked: their viewers are cut.") }, "Revoke")
            : null))),
      "No panel has asked yet."));
    clear(audienceSlot, h("h2", { id: "audience-title" }, "Partners' audience"), table("Partners' audience",
      ["Panel", "Channel", "Watching now", "Peak", "Watch time"],
      audience.map((a) => h("tr", {},
        h("td", {}, a.partner_name), h("td", {}, a.channel_name), h("td", {}, a.viewers_now),
        h("td", {}, a.peak_viewers), h("td", {}, `${Math.round(a.watch_seconds / 60)} min`))),
      "No partner carries your channels yet."));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const body = {
      channel_id: Number(channelSelect.value),
      territories: territoriesInput.value.split(/[\s,]+/).filter(Boolean),
      paid_bouquets: paidInput.checked,
      auto_approve: autoInput.checked,
    };
    if (partnerInput.value.trim()) body.partner_code = partnerInput.value.trim();
    if (untilInput.value) body.until = new Date(untilInput.value).toISOString();
    if (viewersInput.value) body.max_viewers = Number(viewersInput.value);
    if (totalInput.value) body.max_viewers_total = Number(totalInput.value);
    try {
      const made = await api("POST", "/syndication/offers", { json: body });
      toast(made.partner_name ? `Offered to ${made.partner_name}.` : "Channel offered in the directory.");
      form.reset();
      await load();
    } catch (err) {
      error.textContent = [err.message, ...Object.values(err.fields || {})].join(" ");
    }
  });

  clear(main, h("h1", {}, "Offers"),
    h("p", { class: "muted" }, "Let other panels carry your channels: one stream serves them all, and you can revoke at any time."),
    form, partnersSlot, offersSlot, audienceSlot);
  await load().catch((err) => toast(err.message, "error"));
  return {};
}

// This panel's partner code, to hand to a channel's owner; copyable, and replaceable when
// it went to someone who should not have it.
async function partnerCodeCard() {
  const code = h("code", { id: "partner-code", class: "mono" });
  const status = h("p", { class: "muted", role: "status" });
  const show = (found) => { code.textContent = found.partner_code; };
  show(await get("/syndication/partner-code"));
  const copy = h("button", { type: "button", onclick: async () => {
    try {
      await navigator.clipboard.writeText(code.textContent);
      status.textContent = "Copied.";
    } catch {
      getSelection().selectAllChildren(code);  // no clipboard (plain HTTP): select it to copy
      status.textContent = "Selected: copy it with your keyboard.";
    }
  } }, "Copy code");
  const replace = h("button", { type: "button", class: "secondary", onclick: async () => {
    if (!confirm("Replace the partner code? The old one stops working for new offers; offers already made stay.")) return;
    try {
      show(await api("POST", "/syndication/partner-code/replace"));
      status.textContent = "New code: hand it out again.";
    } catch (err) {
      toast(err.message, "error");
    }
  } }, "Replace code");
  return h("section", { class: "card", id: "receive-offers", "aria-labelledby": "receive-title" },
    h("h2", { id: "receive-title" }, "Your partner code"),
    h("p", {}, "Give this code to a channel's owner: they enter it to offer you their channel privately. Other panels cannot see it here."),
    h("p", {}, code), h("div", { class: "actions" }, copy, " ", replace), status);
}

export async function directoryPage(main) {
  const offersSlot = h("section", { id: "directory", "aria-labelledby": "directory-title" });
  const requestsSlot = h("section", { id: "my-requests", "aria-labelledby": "requests-title" });

  async function request(offer) {
    try {
      const made = await api("POST", "/syndication/requests", { json: { offer_id: offer.id } });
      toast(made.status === "active" ? "Approved: it is in your channels now." : "Requested: waiting for the owner.");
      await load();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async function load() {
    const [offers, requests] = await Promise.all([get("/syndication/directory"), get("/syndication/requests")]);
    const asked = new Set(requests.filter((r) => ["requested", "active"].includes(r.status)).map((r) => r.channel_id));
    clear(offersSlot, h("h2", { id: "directory-title" }, "Channels offered to this panel"), table("Channels offered",
      ["Channel", "From", "Terms", ""],
      offers.map((o) => h("tr", { dataset: { offer: o.id } },
        h("td", {}, o.channel_name), h("td", {}, o.owner_name), h("td", {}, terms(o)),
        h("td", { class: "actions" }, asked.has(o.channel_id)
          ? h("span", { class: "muted" }, "Requested")
          : h("button", { type: "button", onclick: () => request(o) }, "Request")))),
      "Nothing is offered to this panel now."));
    clear(requestsSlot, h("h2", { id: "requests-title" }, "Your requests"), table("Your requests",
      ["Channel", "From", "Status", "Your channel", ""],
      requests.map((r) => h("tr", { dataset: { syndication: r.id, status: r.status } },
        h("td", {}, r.channel_name), h("td", {}, r.owner_name),
        h("td", {}, r.status + (r.end_reason ? ` (${r.end_reason})` : "") + (r.owner_suspended && r.status === "active" ? " (its owner is suspended: unavailable to your viewers for now)" : "")),
        h("td", {}, r.entry_channel_id ? h("a", { href: `#/channels?q=${encodeURIComponent(r.channel_name)}` }, `#${r.entry_channel_id}: place it in a bouquet`) : "—"),
        h("td", { class: "actions" }, ["requested", "active"].includes(r.status)
          ? h("button", { type: "button", class: "danger", onclick: () => act("POST", `/syndication/requests/${r.id}/cancel`, load, "Cancelled.") }, r.status === "active" ? "Stop carrying" : "Cancel")
          : null))),
      "No request yet."));
  }

  const codeCard = await partnerCodeCard().catch((err) => h("p", { class: "form-error" }, err.message));
  clear(main, h("h1", {}, "Directory"),
    h("p", { class: "muted" }, "Channels other panels offer you. Once approved, one appears in your channels, read-only: number it and place it in your bouquets."),
    codeCard, offersSlot, requestsSlot);
  await load().catch((err) => toast(err.message, "error"));
  return {};
}
