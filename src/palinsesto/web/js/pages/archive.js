// Catch-up archive: per recorded channel, the oldest and newest recorded time, the disk it
// uses, its gaps and whether it is recording now; the tenant's quota and what it uses of it
// (GET /archive); channels recorded on streaming nodes list each node's archive. Refreshed
// every few seconds while open.

import { get } from "../api.js";
import { clear, h } from "../dom.js";
import { when } from "./channel.js";

const POLL_MS = 5000;

export function size(bytes) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = Number(bytes) || 0;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// A recorded moment: readable in the viewer's time zone, exact in the datetime attribute.
function moment(unix) {
  if (unix === null || unix === undefined) return h("span", { class: "muted" }, "nothing yet");
  return h("time", { datetime: new Date(unix * 1000).toISOString() }, when(unix));
}

function span(oldest, newest) {
  if (oldest === null || newest === null) return "—";
  const seconds = newest - oldest;
  const hours = seconds / 3600;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  return hours >= 48 ? `${(hours / 24).toFixed(1)} days` : hours >= 1 ? `${hours.toFixed(1)} h` : `${Math.round(hours * 60)} min`;
}

function recordingText(c) {
  if (c.recording) return "Recording";
  if (c.archive_days === 0) return "Not archived (kept until pruned)";
  return c.channel_status === "running" ? "Starting to record" : `Not recording (channel ${c.channel_status})`;
}

function usage(tenant, showTenant) {
  const label = showTenant ? `Tenant ${tenant.tenant_id}: ` : "";
  if (!tenant.quota_bytes) {
    const onNodes = tenant.channels.some((c) => (c.nodes || []).length);
    const quota = onNodes ? "each streaming node applies its own quota" : "no quota";
    return h("p", { "data-testid": "archive-usage", "data-bytes": tenant.used_bytes }, `${label}${size(tenant.used_bytes)} used (${quota}).`);
  }
  const share = Math.min(100, (100 * tenant.used_bytes) / tenant.quota_bytes);
  const id = `archive-quota-${tenant.tenant_id}`;
  return h("p", { "data-testid": "archive-usage", "data-bytes": tenant.used_bytes },
    h("label", { for: id }, `${label}${size(tenant.used_bytes)} of ${size(tenant.quota_bytes)} used (${share.toFixed(1)}%) `),
    h("meter", { id, min: 0, max: tenant.quota_bytes, value: tenant.used_bytes, high: tenant.quota_bytes * 0.9 }),
    " The oldest recordings go first when the quota is reached.");
}

// Where the recordings are: this server, and/or each streaming node with its own span.
function whereText(c) {
  const nodes = c.nodes || [];
  if (!nodes.length) return "This server";
  return h("ul", { class: "plain" }, nodes.map((n) => h("li", { "data-archive-node": n.node_id },
    `Node ${n.node_id}: `, moment(n.oldest), " – ", moment(n.newest),
    `, ${n.gaps} ${n.gaps === 1 ? "gap" : "gaps"}, ${n.bytes ? size(n.bytes) : "size not reported"}${n.recording ? ", recording" : ""}`)));
}

function diskText(c) {
  const nodes = c.nodes || [];
  if (nodes.length && !c.files) return `${size(c.bytes)} on ${nodes.length} ${nodes.length === 1 ? "node" : "nodes"}`;
  return `${size(c.bytes)} in ${c.files} ${c.files === 1 ? "file" : "files"}`;
}

function channelTable(tenant) {
  const cols = ["Channel", "Days kept", "State", "Oldest", "Newest", "Span", "Disk used", "Gaps", "Where"];
  const head = h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)));
  const body = h("tbody", {}, tenant.channels.map((c) => h("tr", { "data-archive-channel": c.channel_id },
    h("th", { scope: "row", "data-label": "Channel" }, c.name),
    h("td", { "data-label": "Days kept" }, String(c.archive_days)),
    h("td", { "data-label": "State" }, recordingText(c)),
    h("td", { "data-label": "Oldest", "data-testid": "oldest" }, moment(c.oldest)),
    h("td", { "data-label": "Newest", "data-testid": "newest" }, moment(c.newest)),
    h("td", { "data-label": "Span" }, span(c.oldest, c.newest)),
    h("td", { "data-label": "Disk used", "data-testid": "bytes", "data-bytes": c.bytes }, diskText(c)),
    h("td", { "data-label": "Gaps" }, String(c.gaps)),
    h("td", { "data-label": "Where", "data-testid": "where" }, whereText(c)))));
  return h("table", { class: "data" }, h("caption", { class: "sr-only" }, "Recorded channels"), h("thead", {}, head), body);
}

export async function archivePage(main, ctx) {
  const res = ctx.resource;
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" }, "Loading…");
  const content = h("div", {});
  clear(main, h("h1", {}, res.title), status, content);
  let timer = null;
  let stopped = false;

  function render(report) {
    const tenants = report.tenants;
    const channels = tenants.reduce((n, t) => n + t.channels.length, 0);
    const parts = [];
    for (const tenant of tenants) {
      parts.push(usage(tenant, tenants.length > 1 || ctx.me.role === "platform_admin"));
      if (tenant.channels.length) parts.push(h("div", { class: "table-wrap" }, channelTable(tenant)));
    }
    clear(content, ...parts);
    status.textContent = channels
      ? `${channels} recorded ${channels === 1 ? "channel" : "channels"}; refreshes every ${POLL_MS / 1000} s.`
      : "No channel is recorded. Set a channel's Catch-up days above 0 to record it.";
  }

  async function load() {
    clearTimeout(timer);
    try {
      const report = await get(res.path);
      if (stopped) return;
      render(report);
    } catch (error) {
      if (stopped) return;
      status.textContent = error.message;
    }
    if (!stopped) timer = setTimeout(load, POLL_MS);
  }

  await load();
  return { reload: load, leave: () => { stopped = true; clearTimeout(timer); } };
}
