// A reseller's home: its balance, what it can buy, and its lines expiring in the next week.

import { get } from "../api.js";
import { clear, formatValue, h } from "../dom.js";
import { has } from "../openapi.js";
import { packageText } from "../resources.js";

const WEEK_MS = 7 * 86400000;

export async function resellerHomePage(main, ctx) {
  // Everything goes into this page's own box: if the user has moved on by the time the
  // answers arrive, the box is detached and the other page stays.
  const box = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  clear(main, h("h1", {}, "My business"), box);
  const [me, packages, expiring] = await Promise.all([
    get(`/users/${ctx.me.id}`).catch(() => null),
    has("/packages") ? get("/packages", { per_page: 50 }).catch(() => null) : null,
    get("/lines", { per_page: 10, sort: "exp_date", expiring_before: new Date(Date.now() + WEEK_MS).toISOString() }).catch(() => null),
  ]);
  const soon = expiring ? expiring.items : [];
  clear(box,
    h("div", { class: "stats" },
      h("section", { class: "card stat", "aria-label": "Balance" }, h("h2", {}, "Balance"), h("p", { class: "value" }, me ? `${me.credits} credits` : "—")),
      h("section", { class: "card stat", "aria-label": "Expiring this week" }, h("h2", {}, "Expiring this week"), h("p", { class: "value" }, expiring ? String(expiring.total) : "—"))),
    h("section", { class: "card" }, h("h2", {}, "Lines expiring soon"), soon.length
      ? h("ul", { class: "plain" }, soon.map((line) => h("li", {}, h("strong", {}, line.username), ` expires ${formatValue(line.exp_date)}`)))
      : h("p", { class: "muted" }, "None in the next 7 days."),
      h("p", {}, h("a", { href: "#/lines" }, "All my lines"))),
    h("section", { class: "card" }, h("h2", {}, "Packages you can sell"), packages && packages.items.length
      ? h("ul", { class: "plain" }, packages.items.filter((p) => p.enabled).map((p) => h("li", {}, packageText(p))))
      : h("p", { class: "muted" }, "No packages yet: ask your provider.")));
  return {};
}
