// Lines: copy the M3U URL and the Xtream login, who is online now, and "why can't this
// line play?"; the rest is the generic page.

import { get } from "../api.js";
import { copyText, h } from "../dom.js";
import { has } from "../openapi.js";

const ONLINE_POLL_MS = 10000;

export function onlineCell(row) {
  // Filled in by onlineColumn() once the table is drawn (one request for the whole page).
  return h("span", { class: "badge", "data-online-line": row.id }, "…");
}

const connectionsText = (n, max) => (max ? `${n} / ${max}` : `${n} / unlimited`);

let onlineRound = 0;

/** After the lines table renders: each row's connections now against its limit, in one
 * request, again every few seconds while this rendering of the table is on screen. */
export async function onlineColumn(items, table, _ctx, round = ++onlineRound) {
  if (!items.length || !has("/lines/online")) return;
  let found = [];
  try {
    found = (await get("/lines/online", { ids: items.map((r) => r.id).join(",") })).items;
  } catch {
    found = [];
  }
  if (round !== onlineRound || !table.isConnected) return;
  setTimeout(() => onlineColumn(items, table, _ctx, round), ONLINE_POLL_MS);
  for (const x of found) {
    const cell = table.querySelector(`[data-online-line="${x.line_id}"]`);
    if (!cell) continue;
    const full = x.max_connections && x.connections >= x.max_connections;
    cell.className = `badge${x.connections ? (full ? " state-pending" : " state-online") : ""}`;
    cell.textContent = x.connections ? `online · ${connectionsText(x.connections, x.max_connections)}` : "offline";
    cell.title = `${connectionsText(x.connections, x.max_connections)} connections in use`;
  }
}

const LEVEL_TEXT = { problem: "Problem", warning: "Note", ok: "OK" };

/** "Why can't this line play?": the server's findings, problems first, each with its fix. */
async function diagnosisSection(line) {
  const section = h("section", { class: "action diagnosis", "aria-live": "polite" }, h("h3", {}, "Why can't this line play?"));
  const body = h("div", {}, h("p", { class: "help" }, "Checking…"));
  section.append(body);
  const check = async () => {
    let d;
    try {
      d = await get(`/lines/${line.id}/diagnosis`);
    } catch (err) {
      body.replaceChildren(h("p", { class: "error" }, `The check failed: ${err.message}`));
      return;
    }
    body.replaceChildren(
      h("p", { class: d.can_play ? "verdict ok" : "verdict problem" },
        d.can_play ? "It can play." : "It cannot play until the problems below are fixed.",
        ` Connections now: ${connectionsText(d.connections, d.max_connections)}.`),
      h("ul", { class: "findings" }, d.findings.map((f) => h("li", { class: `finding ${f.level}` },
        h("span", { class: `badge level-${f.level}` }, LEVEL_TEXT[f.level] || f.level), " ", f.message,
        f.fix ? h("div", { class: "help" }, `Fix: ${f.fix}`) : null))),
      h("button", { type: "button", class: "secondary", onclick: check }, "Check again"));
  };
  await check();
  return section;
}

export function m3uUrl(line) {
  const q = new URLSearchParams({ username: line.username, password: line.password, type: "m3u_plus", output: "ts" });
  return `${location.origin}/get.php?${q}`;
}

export function xtreamLogin(line) {
  return `Server: ${location.origin}\nUsername: ${line.username}\nPassword: ${line.password}`;
}

export function lineButtons(row) {
  if (!row.password) return null;
  return [
    h("button", { type: "button", class: "link", onclick: () => copyText(m3uUrl(row), "M3U URL copied") }, "M3U", h("span", { class: "sr-only" }, ` URL of ${row.username}`)),
    h("button", { type: "button", class: "link", onclick: () => copyText(xtreamLogin(row), "Xtream login copied") }, "Xtream", h("span", { class: "sr-only" }, ` login of ${row.username}`)),
  ];
}

export async function lineDetail(line) {
  const diagnosis = has("/lines/{line_id}/diagnosis") ? [await diagnosisSection(line)] : [];
  if (!line.password) return diagnosis;
  return [...diagnosis, h("section", { class: "action" }, h("h3", {}, "Give to the viewer"),
    h("div", { class: "copy-row" }, h("code", {}, m3uUrl(line)), h("button", { type: "button", onclick: () => copyText(m3uUrl(line), "M3U URL copied") }, "Copy M3U URL")),
    h("div", { class: "copy-row" }, h("code", {}, `${location.origin} · ${line.username}`), h("button", { type: "button", onclick: () => copyText(xtreamLogin(line), "Xtream login copied") }, "Copy Xtream login")))];
}
