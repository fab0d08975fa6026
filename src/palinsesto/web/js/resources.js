// Every resource page, declared. A declaration names candidate API paths (the first one the
// OpenAPI document has wins, so a page appears as soon as its route lands), who sees it,
// and hints for its table and form. Anything undeclared comes from the schemas.

import { ASSIGNABLE, EVERYONE, MANAGERS, READERS, WRITERS } from "./roles.js";
import { valueLabel } from "./labels.js";
import { bouquetItems } from "./pages/bouquet.js";
import { channelDetail, channelStatusCell, liveColumn } from "./pages/channel.js";
import { libraryDetail, libraryProgress, libraryScanCell, movieDetail } from "./pages/library.js";
import { channelBulkEdit } from "./pages/channel_bulk.js";
import { lineButtons, lineDetail, onlineCell, onlineColumn } from "./pages/lines.js";
import { guidePage } from "./pages/guide.js";
import { m3uPage } from "./pages/m3u.js";
import { uploadsPage } from "./pages/uploads.js";
import { h } from "./dom.js";
import { refColumn } from "./refs.js";
import { nodeStateCell, nodeStates, serverDetail, showCreatedToken } from "./pages/servers.js";
import { sessionsPage } from "./pages/sessions.js";
import { archivePage } from "./pages/archive.js";
import { offerOwner, tenantUsage } from "./pages/tenants.js";
import { legalSettingsPage } from "./pages/legal_settings.js";
import { counterNoticesPage, noticesPage, restrictionsPage } from "./pages/notices.js";
import { personalDataPage } from "./pages/personal_data.js";
import { rightsPage } from "./pages/rights.js";

const catRef = (kind) => ({ widget: "ref", ref: { path: "/categories", params: { kind }, label: "name" } });
const catRefs = (kind) => ({ widget: "refs", ref: { path: "/categories", params: { kind }, label: "name" }, label: "Categories" });
// "Gold · 1 month · 10 credits": what a reseller compares when choosing.
export function term(days) {
  if (days % 365 === 0) return days === 365 ? "1 year" : `${days / 365} years`;
  if (days % 30 === 0) return days === 30 ? "1 month" : `${days / 30} months`;
  if (days % 7 === 0) return days === 7 ? "1 week" : `${days / 7} weeks`;
  return days === 1 ? "1 day" : `${days} days`;
}
export const packageText = (p) => `${p.name} · ${term(p.duration_days)} · ${p.credits} ${p.credits === 1 ? "credit" : "credits"}`;
const packageRef = { widget: "ref", ref: { path: "/packages", label: "name", format: packageText }, label: "Package" };
// What a reseller may change on its own lines (the API refuses the rest): the form shows only these.
const RESELLER_EDITABLE = new Set(["password", "enabled", "allowed_outputs", "allowed_ips", "allowed_user_agents", "notes"]);
const userRef = { widget: "ref", ref: { path: "/users", params: { role: "reseller" }, label: "username" }, label: "Reseller" };
const bouquetRefs = { widget: "refs", ref: { path: "/bouquets", label: "name" }, label: "Bouquets" };

// A link styled as a button, to the import wizard.
const importLink = (text, kind) => h("a", { href: "#/m3u", class: `button ${kind}` }, text);

const roleOptions = (me) => (ASSIGNABLE[me.role] || []).map((r) => [r, valueLabel(r)]);

export const RESOURCES = [
  {
    key: "channels", title: "Channels", singular: "channel", group: "Catalog",
    paths: ["/channels"], read: READERS, write: MANAGERS,
    columns: ["id", "number", "name", refColumn("category_ids", "Categories", "/categories"), "mode", { name: "status", label: "Live", render: channelStatusCell }, "enabled"],
    emptyHelp: "A channel is one stream: pulled from an address, or pushed from OBS. Create one, or import a provider's M3U playlist.",
    sortable: ["id", "number", "name"],
    categoryKind: "live",
    bulkEdit: channelBulkEdit,
    toolbarFor: (ctx) => (MANAGERS.includes(ctx.me.role) ? [importLink("Import M3U playlist", "secondary")] : []),
    emptyExtraFor: (ctx) => (MANAGERS.includes(ctx.me.role) ? importLink("Import an M3U playlist", "secondary") : null),
    formHints: {
      category_ids: catRefs("live"),
      sources: { itemLabel: "source", help: "Tried in order; the next one takes over when one fails." },
      stream_key: { hidden: true },
      public_watch: { label: "Public watch", help: "Anyone with the share link watches in the browser, without a line." },
      // Picked by name: the creators page lists no ids, so a bare number could not be found.
      owner_user_id: { widget: "ref", ref: { path: "/users", params: { role: "creator" }, label: "username" }, label: "Creator", nullable: true, help: "A creator of this panel who owns it: sees its stream key and its audience." },
    },
    detail: channelDetail,
    afterRender: liveColumn,
    actionLabels: { "stream-key": "Rotate stream key" },
    confirmActions: ["stream-key"],
  },
  {
    key: "categories", title: "Categories", singular: "category", group: "Catalog",
    paths: ["/categories"], read: READERS, write: MANAGERS,
    columns: ["id", "kind", "name", "sort_order"], sortable: ["id", "name", "sort_order"],
    emptyHelp: "Categories group channels, movies and series in players (News, Sports…). Start with one.",
  },
  {
    key: "bouquets", title: "Bouquets", singular: "bouquet", group: "Catalog",
    paths: ["/bouquets"], read: READERS, write: MANAGERS,
    columns: ["id", "name", "sort_order"], sortable: ["id", "name", "sort_order"],
    emptyHelp: "A bouquet is a pack of channels a line can watch (Basic, Sports…).",
    formHints: { items: { hidden: true } },
    detail: bouquetItems,
  },
  {
    key: "movies", title: "Movies", singular: "movie", group: "Catalog",
    paths: ["/movies"], read: READERS, write: MANAGERS,
    columns: ["id", "name", "year", refColumn("category_id", "Category", "/categories"), "rating", "enabled"], sortable: ["id", "name", "year"],
    categoryKind: "movie",
    formHints: { category_id: catRef("movie") },
    detail: movieDetail,
    hiddenActions: ["preview"], // the detail's player asks for its signed URL itself
  },
  {
    key: "series", title: "Series", singular: "series", group: "Catalog",
    paths: ["/series"], read: READERS, write: MANAGERS,
    columns: ["id", "name", "year", refColumn("category_id", "Category", "/categories"), "enabled"], sortable: ["id", "name", "year"],
    categoryKind: "series",
    formHints: { category_id: catRef("series") },
  },
  {
    key: "libraries", title: "Library", singular: "library folder", group: "Catalog",
    paths: ["/libraries"], read: READERS, write: MANAGERS,
    columns: ["id", "name", "path", "kind", { name: "scan", label: "Scan", render: libraryScanCell }, "files_ok", "files_broken", "files_missing"],
    sortable: ["id", "name"],
    emptyHelp: "A library is a folder of your media: its video files become movies (or series, seasons and episodes) when it is scanned, with .nfo details and posters.",
    formHints: { category_id: { widget: "ref", ref: { path: "/categories", label: "name" } } },
    detail: libraryDetail,
    hiddenActions: ["scan"], // "Scan now" in the detail, which then follows the progress
    afterRender: libraryProgress,
  },
  {
    key: "uploads", title: "Uploads", singular: "upload", group: "Catalog",
    paths: ["/uploads"], read: MANAGERS, write: MANAGERS, page: uploadsPage,
  },
  {
    key: "m3u", title: "M3U import", singular: "M3U source", group: "Catalog",
    paths: ["/m3u/sources"], read: READERS, write: MANAGERS, page: m3uPage,
  },
  {
    key: "guide", title: "TV guide", singular: "programme", group: "Catalog",
    paths: ["/epg/grid"], read: READERS, write: MANAGERS, create: false, page: guidePage,
  },
  {
    key: "epg-sources", title: "EPG sources", singular: "EPG source", group: "Catalog",
    paths: ["/epg/sources", "/epg-sources"], read: READERS, write: MANAGERS,
  },
  {
    key: "epg-matches", title: "EPG matches", singular: "EPG match", group: "Catalog",
    paths: ["/epg/matches", "/epg/match-review", "/epg/review", "/epg-matches"], read: READERS, write: MANAGERS, create: false,
  },
  {
    key: "lines", title: "Lines", singular: "line", group: "Subscribers", labelField: "username",
    paths: ["/lines"], read: EVERYONE, write: WRITERS,
    columns: ["id", "username", "exp_date", { name: "online", label: "Online", render: onlineCell }, "enabled", refColumn("reseller_id", "Reseller", "/users", "username")],
    afterRender: onlineColumn,
    sortable: ["id", "username", "exp_date"],
    emptyHelp: "A line is a customer's subscription: a username and password for players, a playlist address, and an expiry date.",
    formHints: { bouquet_ids: bouquetRefs, reseller_id: { widget: "ref", ref: { path: "/users", params: { role: "reseller" }, label: "username" }, label: "Reseller", nullable: true } },
    rowButtons: lineButtons,
    // Resellers sell lines with credits: "Buy a line" replaces "New line" for them.
    create: (me) => me.role !== "reseller",
    // A reseller's own id as a column or filter says nothing; extend/ban in bulk are refused.
    hideFor: (me) => (me.role === "reseller" ? ["reseller_id"] : []),
    bulkHintsFor: (me) => (me.role === "reseller" ? {
      action: { options: ["enable", "disable", "delete"].map((v) => [v, valueLabel(v)]) },
      days: { hidden: true },
    } : {}),
    editHintsFor: (me, fields) => (me.role === "reseller" ? Object.fromEntries(fields.filter((f) => !RESELLER_EDITABLE.has(f)).map((f) => [f, { hidden: true }])) : {}),
    detail: lineDetail,
    actions: ["/lines/purchase"],
    actionLabels: { "/lines/purchase": "Buy a line with credits", extend: "Extend with credits" },
    actionHints: { "/lines/purchase": { package_id: packageRef }, extend: { package_id: packageRef } },
    bulkLabel: "Apply to selected…",
  },
  {
    key: "users", title: "Resellers & users", singular: "user", group: "Subscribers", labelField: "username",
    paths: ["/users", "/resellers"], read: [...MANAGERS, "reseller"], write: WRITERS,
    columns: ["id", "username", "role", "credits", "enabled", refColumn("parent_id", "Parent reseller", "/users", "username")], sortable: ["id", "username", "credits"],
    // A sub-reseller's parent is outside what it may read.
    hideFor: (me) => (me.role === "reseller" ? ["parent_id"] : []),
    // No role is preselected: an owner picks one on purpose, among those it may hand out
    // (never a platform admin).
    createHintsFor: (me) => ({ role: { choose: "Choose a role…", options: roleOptions(me) } }),
    editHintsFor: (me) => ({ role: { options: roleOptions(me) } }),
  },
  {
    key: "credits", title: "Credits", singular: "credit movement", group: "Subscribers",
    paths: ["/credits", "/credit-ledger", "/credits/ledger"], read: [...MANAGERS, "reseller"], write: MANAGERS,
    columns: ["id", refColumn("user_id", "User", "/users", "username"), "amount", "balance_after", "reason", "created_at"], sortable: ["id", "created_at"],
    actions: ["/credits/grants", "/credits/transfers"],
    actionLabels: { "/credits/grants": "Grant credits", "/credits/transfers": "Transfer credits" },
    actionHints: { "/credits/grants": { user_id: userRef }, "/credits/transfers": { to_user_id: userRef } },
  },
  {
    key: "packages", title: "Packages", singular: "package", group: "Subscribers",
    paths: ["/packages"], read: READERS, write: MANAGERS,
    columns: ["id", "name", { name: "term", label: "Term", render: (p) => term(p.duration_days) }, "credits", "max_connections", "enabled"],
    formHints: { bouquet_ids: bouquetRefs },
  },
  {
    key: "servers", title: "Servers", singular: "server", group: "Operations",
    paths: ["/servers"], read: READERS, write: MANAGERS,
    columns: ["id", "name", { name: "state", label: "Now", render: nodeStateCell }, "capacity", "draining"],
    emptyHelp: "A server is a streaming node (palinsesto node) of yours: create one, then start the node with the token shown.",
    formHints: { status: { hidden: true } },
    afterRender: nodeStates,
    afterCreate: showCreatedToken,
    detail: serverDetail,
    hiddenActions: ["token", "drain"],
  },
  {
    key: "sessions", title: "Live sessions", singular: "session", group: "Operations",
    paths: ["/live/sessions", "/sessions"], read: READERS, write: MANAGERS, create: false,
    page: sessionsPage,
  },
  {
    key: "archive", title: "Catch-up archive", singular: "recorded channel", group: "Operations",
    paths: ["/archive"], read: READERS, write: [], create: false,
    page: archivePage,
  },
  {
    key: "audit", title: "Audit log", singular: "entry", group: "Operations",
    paths: ["/audit", "/audit-log", "/audit/entries"], read: MANAGERS, write: [], create: false,
    columns: ["created_at", "actor", "action", "entity", "entity_id", "ip"], sortable: ["id", "created_at"],
  },
  // Legal: rights, notice-and-action, retention and personal data (managers only: the API's).
  {
    key: "rights", title: "Rights", singular: "rights record", group: "Legal",
    paths: ["/rights"], read: MANAGERS, write: MANAGERS, page: rightsPage,
  },
  {
    key: "notices", title: "Notice inbox", singular: "notice", group: "Legal",
    paths: ["/notices"], read: MANAGERS, write: MANAGERS, page: noticesPage,
  },
  {
    key: "restrictions", title: "Restrictions", singular: "decision", group: "Legal",
    paths: ["/notice-actions"], read: MANAGERS, write: MANAGERS, page: restrictionsPage,
  },
  {
    key: "counter-notices", title: "Counter-notices", singular: "counter-notice", group: "Legal",
    paths: ["/counter-notices"], read: MANAGERS, write: MANAGERS, page: counterNoticesPage,
  },
  {
    key: "personal-data", title: "Personal data", singular: "data subject", group: "Legal",
    paths: ["/lines/{line_id}/personal-data"], read: MANAGERS, write: MANAGERS, page: personalDataPage,
  },
  {
    key: "legal-settings", title: "Legal settings", singular: "setting", group: "Legal",
    paths: ["/tenants/{tenant_id}/operator"], read: MANAGERS, write: MANAGERS, page: legalSettingsPage,
  },
  {
    key: "tenants", title: "Tenants", singular: "tenant", group: "Platform",
    paths: ["/tenants"], read: ["platform_admin"], write: ["platform_admin"],
    columns: ["id", "name", "slug", "status", "max_channels", "max_lines"], sortable: ["id", "name", "slug"],
    afterCreate: offerOwner,
    detail: (tenant) => tenantUsage(tenant),
    hiddenActions: ["operator"], // on the Legal settings page, with its words and checks
  },
];

for (const res of RESOURCES) {
  res.canRead = (me) => res.read.includes(me.role);
  res.canWrite = (me) => res.write.includes(me.role);
}
