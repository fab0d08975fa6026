// Streaming nodes: their live state from heartbeats (polled while the table is on screen),
// and a node's enrolment token, shown once with a copy button when the server is created
// or its token rotated; revoke and drain in its detail.

import { api, get } from "../api.js";
import { clear, copyText, h, toast } from "../dom.js";
import { dialog } from "../form.js";
import { has } from "../openapi.js";

const POLL_MS = 3000;
let round = 0;

export function nodeStateCell(row) {
  // Filled in by nodeStates() once the table is drawn (one request for the whole page).
  return h("span", { class: "badge", "data-node-state": row.id }, "…");
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  return seconds < 90 ? `${Math.round(seconds)} s ago` : `${Math.round(seconds / 60)} min ago`;
}

// A node's role is per channel: origin of those it pulls, edge of those it relays.
function roles(s) {
  const parts = [];
  if (s.origin_of) parts.push(`origin of ${s.origin_of}`);
  if (s.edge_of) parts.push(`edge of ${s.edge_of}`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

function describe(s) {
  if (s.state === "never") return "not registered yet";
  // A lost node's figures are unknown (null): its last ones are not what it does now.
  if (s.viewers === null || s.viewers === undefined) return `${s.state} · ${age(s.heartbeat_age_seconds)} · load unknown`;
  const load = `${s.viewers} viewers · ${s.egress_mbps.toFixed(1)} Mbit/s · ${s.channels} channels${roles(s)}`;
  return `${s.state} · ${age(s.heartbeat_age_seconds)} · ${load}`;
}

/** After the servers table renders: each node's state, again every few seconds. */
export async function nodeStates(items, table, ctx, mine = ++round) {
  if (!items.length || !has("/nodes/status")) return;
  let states = [];
  try {
    states = (await get("/nodes/status")).items;
  } catch {
    states = [];
  }
  if (mine !== round || !table.isConnected) return;
  setTimeout(() => nodeStates(items, table, ctx, mine), POLL_MS);
  for (const s of states) {
    const cell = table.querySelector(`[data-node-state="${s.id}"]`);
    if (!cell) continue;
    cell.className = `badge state-${s.state === "online" ? "running" : s.state === "lost" ? "failing" : "stopped"}`;
    cell.textContent = describe(s);
  }
}

function tokenBlock(token) {
  return h("div", {},
    h("p", {}, "The node's token, shown this once (only its hash is kept). Start the node with it:"),
    h("div", { class: "copy-row" }, h("span", {}, "Token"), h("code", { class: "secret", "data-testid": "node-token" }, token),
      h("button", { type: "button", onclick: () => copyText(token, "Token copied") }, "Copy token")),
    h("p", { class: "muted" }, h("code", {}, `palinsesto node --panel ${location.origin} --token <token>`)));
}

/** Right after a server is created: its token, once. */
export function showCreatedToken(created) {
  if (created && created.token) dialog(`Server ${created.name}: enrolment token`, tokenBlock(created.token));
}

/** A server's detail: rotate or revoke its token, drain or resume it. */
export async function serverDetail(server, _ctx, { reload, writable }) {
  if (!writable) return [];
  const out = h("div", { "aria-live": "polite" });
  const rotate = async () => {
    if (!confirm("Rotate the token? The node stops working until it is given the new one.")) return;
    try {
      const r = await api("POST", `/servers/${server.id}/token`);
      clear(out, tokenBlock(r.token));
      reload();
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const revoke = async () => {
    if (!confirm("Revoke the token? The node is refused from its next heartbeat.")) return;
    try {
      await api("DELETE", `/servers/${server.id}/token`);
      clear(out, h("p", {}, "Token revoked: the node is refused; rotate to enrol it again."));
      reload();
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const drain = async () => {
    try {
      const r = await api("POST", `/servers/${server.id}/drain`, { json: { draining: !server.draining } });
      server.draining = r.draining;
      toast(r.draining ? "Draining: no new viewers or channels." : "Taking viewers again.");
      reload();
      clear(out);
      drainButton.textContent = r.draining ? "Resume" : "Drain";
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const drainButton = h("button", { type: "button", onclick: drain }, server.draining ? "Resume" : "Drain");
  return [h("section", { class: "action" }, h("h3", {}, "Node"),
    h("p", { class: "help" }, "Drain: the node keeps what it serves and gets no new viewers or channels."),
    h("div", { class: "buttons" },
      h("button", { type: "button", onclick: rotate }, "Rotate token"),
      h("button", { type: "button", class: "danger", onclick: revoke }, "Revoke token"),
      drainButton),
    out)];
}
