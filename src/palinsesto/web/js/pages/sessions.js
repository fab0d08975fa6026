// Live sessions: who plays what now (line, channel, IP, player, output, since, bytes), kept
// fresh every few seconds; managers end one (DELETE /live/sessions/{id}: a TS viewer is cut
// at once, an HLS player's next request is refused).

import { api, get } from "../api.js";
import { clear, h, toast } from "../dom.js";
import { when } from "./channel.js";

const POLL_MS = 3000;

function size(bytes) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = Number(bytes) || 0;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export async function sessionsPage(main, ctx) {
  const res = ctx.resource;
  const writable = res.canWrite(ctx.me);
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" }, "Loading…");
  const table = h("table", { class: "data" });
  clear(main, h("h1", {}, res.title), status, h("div", { class: "table-wrap" }, table));
  let timer = null;
  let stopped = false;

  async function end(row) {
    try {
      await api("DELETE", `${res.path}/${encodeURIComponent(row.id)}`);
      toast(`Session of ${row.username} ended.`);
      await load();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  function render(rows) {
    const cols = ["Line", "Channel", "IP", "Player", "Output", "Started", "Sent"];
    const head = h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")));
    const body = h("tbody", {}, rows.map((s) => h("tr", { "data-session": s.id },
      h("td", { "data-label": "Line" }, s.username),
      h("td", { "data-label": "Channel" }, s.channel_name || `#${s.channel_id}`),
      h("td", { "data-label": "IP" }, s.ip),
      h("td", { "data-label": "Player" }, s.user_agent || "—"),
      h("td", { "data-label": "Output" }, s.output.toUpperCase()),
      h("td", { "data-label": "Started" }, when(s.started_at)),
      h("td", { "data-label": "Sent" }, size(s.bytes)),
      h("td", { class: "actions" }, writable
        ? h("button", { type: "button", class: "danger small", onclick: () => end(s) }, "End", h("span", { class: "sr-only" }, ` session of ${s.username} on ${s.channel_name || s.channel_id}`))
        : null))));
    clear(table, h("caption", { class: "sr-only" }, res.title), h("thead", {}, head), body);
    status.textContent = rows.length ? `${rows.length} ${rows.length === 1 ? "session" : "sessions"} playing now; refreshes every ${POLL_MS / 1000} s.` : "Nobody is watching right now.";
  }

  async function load() {
    clearTimeout(timer);
    try {
      const data = await get(res.path);
      if (stopped) return;
      render(Array.isArray(data) ? data : data.items);
    } catch (error) {
      if (stopped) return;
      status.textContent = error.message;
    }
    if (!stopped) timer = setTimeout(load, POLL_MS);
  }

  await load();
  return { reload: load, leave: () => { stopped = true; clearTimeout(timer); } };
}
