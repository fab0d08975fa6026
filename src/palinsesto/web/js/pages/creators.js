// Creators (owners and admins): invite by e-mail, see who accepted and which channels each
// owns. A channel is given to a creator in its own form (owner_user_id).

import { api, get } from "../api.js";
import { clear, copyText, formatValue, h, toast } from "../dom.js";

export async function creatorsPage(main) {
  const result = h("div", { "aria-live": "polite" });
  const creators = h("div");
  const invites = h("div");
  const email = h("input", { id: "invite-email", name: "email", type: "email", required: true, autocomplete: "off" });
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "card", "aria-labelledby": "invite-title" },
    h("h2", { id: "invite-title" }, "Invite a creator"),
    h("p", { class: "muted" }, "They get a link, valid 72 hours and once, to choose their username and password. Creators see only their own channels and audience."),
    h("div", { class: "field" }, h("label", { for: "invite-email" }, "E-mail address"), email),
    error, h("button", { type: "submit" }, "Send invitation"));

  async function load() {
    const [people, sent] = await Promise.all([get("/creators"), get("/creators/invites")]);
    clear(creators, h("h2", {}, "Creators"), people.length
      ? h("ul", {}, people.map((c) => h("li", {}, `${c.username} (${c.email || "no e-mail"}) — channels: ${c.channel_ids.length ? c.channel_ids.map((id) => `#${id}`).join(", ") : "none yet"}`)))
      : h("p", { class: "muted" }, "No creators yet."));
    clear(invites, h("h2", {}, "Invitations"), sent.length
      ? h("ul", {}, sent.map((i) => h("li", {}, `${i.email}: ${i.used_at ? `accepted ${formatValue(i.used_at)}` : `open until ${formatValue(i.expires_at)}`}`)))
      : h("p", { class: "muted" }, "None sent."));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const sent = await api("POST", "/creators/invites", { json: { email: email.value.trim() } });
      clear(result, h("p", { class: sent.sent ? "notice" : "muted" }, sent.message));
      if (sent.link) {
        result.append(h("div", { class: "copy-row" }, h("code", { id: "invite-link" }, sent.link),
          h("button", { type: "button", onclick: () => copyText(sent.link, "Link copied") }, "Copy link")));
      }
      form.reset();
      await load();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  clear(main, h("h1", {}, "Creators"), form, result, creators, invites);
  await load().catch((err) => toast(err.message, "error"));
  return {};
}
