// The dashboard: viewers now and over the last hour, day or week, bandwidth, channels
// running and failing, this server's CPU, memory and network (platform admins), nodes,
// expiring lines, recent failures. It polls the API every few seconds while it is shown;
// the live figures and the history come from the live engine (GET /live/overview,
// GET /live/history: a point a minute, or an hour for a week, kept in the server's memory).

import { get } from "../api.js";
import { lineChart } from "../chart.js";
import { clear, formatValue, h } from "../dom.js";
import { findGet, has, queryParams } from "../openapi.js";
import { when } from "./channel.js";
import { firstHourChecklist } from "./checklist.js";

const POLL_MS = 3000;
const HISTORY_KEY = "palinsesto.viewers";
const RANGE_KEY = "palinsesto.viewerRange";
const RANGES = [{ hours: 1, text: "1 h", title: "last hour" }, { hours: 24, text: "24 h", title: "last 24 hours" }, { hours: 168, text: "7 d", title: "last 7 days" }];

function bytes(value) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = Number(value);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${v.toFixed(v < 10 && i ? 1 : 0)} ${units[i]}`;
}

function bits(value) {
  if (value === undefined || value === null) return "—";
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"];
  let v = Number(value);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${v.toFixed(v < 10 && i ? 1 : 0)} ${units[i]}`;
}

function card(title, value, note) {
  return h("section", { class: "card stat", "aria-label": title }, h("h2", {}, title), h("p", { class: "value" }, value), note ? h("p", { class: "muted" }, note) : null);
}

async function total(path, params = {}) {
  if (!has(path)) return null;
  try {
    return (await get(path, { per_page: 1, ...params })).total;
  } catch {
    return null;
  }
}

// The sessions/lines filter that narrows to lines expiring within days, whatever it is named.
function expiringParam() {
  const names = queryParams("/lines").map((p) => p.name);
  return ["expiring_before", "expiring_within_days", "expires_within_days", "expiring_days", "expiring"].find((n) => names.includes(n));
}

async function gather(hours, me) {
  const overviewPath = findGet([/^\/live\/(overview|status|stats|dashboard)$/, /^\/(dashboard|stats|overview)$/]);
  const historyPath = findGet([/^\/live\/(history|viewers)(\/history)?$/, /^\/stats\/viewers$/]);
  const sessionsPath = findGet([/^\/sessions$/, /^\/live\/sessions$/]);
  const expiring = expiringParam();
  // Every request at once: one round trip a refresh (and none left to start after a sign-out).
  const [overview, history, host, channels, lines, expiringLines, servers] = await Promise.all([
    overviewPath ? get(overviewPath).catch(() => null) : null,
    historyPath ? get(historyPath, { hours }).catch(() => null) : null,
    // The machine is the platform's: only its admins are shown (and allowed) its figures.
    me.role === "platform_admin" && has("/system/host") ? get("/system/host").catch(() => null) : null,
    total("/channels"),
    total("/lines"),
    expiring ? total("/lines", { [expiring]: expiring === "expiring_before" ? new Date(Date.now() + 7 * 86400000).toISOString() : 7 }) : null,
    has("/servers") ? get("/servers", { per_page: 50 }).catch(() => null) : null,
  ]);
  const sessions = sessionsPath && !overview ? await total(sessionsPath) : null;
  return { overview, history, host, channels, lines, sessions, expiringLines, servers };
}

function viewerSeries(data) {
  const raw = (data.history && (data.history.points || data.history.items || data.history)) || (data.overview && data.overview.history) || null;
  if (Array.isArray(raw) && raw.length) {
    // Unix seconds (the live API) or anything Date understands.
    const ms = (t) => (typeof t === "number" && t < 1e12 ? t * 1000 : new Date(t).getTime());
    const points = raw.map((p) => (Array.isArray(p) ? [ms(p[0]), p[1]] : [ms(p.at ?? p.time ?? p.t), p.viewers ?? p.value ?? 0]));
    const started = data.history.started_at;
    return { points, kept: "server", startedMs: typeof started === "number" ? started * 1000 : null };
  }
  return null;
}

function hostCards(host) {
  if (!host) return [];
  return [
    card("Server CPU", `${host.cpu_percent.toFixed(0)} %`, `load ${host.load_1m} · ${host.cpu_count} ${host.cpu_count === 1 ? "core" : "cores"}`),
    card("Server memory", bytes(host.memory_used_bytes), `of ${bytes(host.memory_total_bytes)} in use`),
    card("Server network", `in ${bits(host.network_in_bps)}`, `out ${bits(host.network_out_bps)}`),
  ];
}

export async function dashboardPage(main, ctx) {
  const stats = h("div", {});
  const rest = h("div", {});
  const updated = h("p", { class: "muted", role: "status" });
  // Rendered at once, filled when ready: the user may already have gone to another page.
  const checklist = h("div", {});
  let hours = Number(sessionStorage.getItem(RANGE_KEY)) || 24;
  if (!RANGES.some((r) => r.hours === hours)) hours = 24;
  // The chart's card stays on the page between refreshes, so the range buttons keep focus.
  const chartTitle = h("h2", {}, "");
  const chartSlot = h("div", {});
  const rangeButtons = RANGES.map((r) => h("button", { type: "button", class: "secondary", "aria-pressed": String(r.hours === hours), title: `Viewers over the ${r.title}`,
    onclick: () => { hours = r.hours; sessionStorage.setItem(RANGE_KEY, String(hours)); for (const [i, b] of rangeButtons.entries()) b.setAttribute("aria-pressed", String(RANGES[i].hours === hours)); refresh(); } }, r.text));
  const chartCard = h("section", { class: "card", "data-testid": "viewer-chart" },
    h("div", { class: "chart-head" }, chartTitle, h("div", { class: "range", role: "group", "aria-label": "Time range" }, rangeButtons)), chartSlot);
  clear(main, h("h1", {}, "Dashboard"), checklist, updated, stats, chartCard, rest);
  if (ctx.me.role !== "support") firstHourChecklist().then((box) => clear(checklist, box)).catch(() => {});
  let local = JSON.parse(sessionStorage.getItem(HISTORY_KEY) || "[]");
  let timer = null;
  let stopped = false;

  async function tick() {
    const wanted = hours;
    const data = await gather(wanted, ctx.me);
    if (stopped || wanted !== hours) return; // the range changed meanwhile: its own tick draws it
    const o = data.overview || {};
    const viewers = o.viewers ?? o.viewers_now ?? o.sessions ?? data.sessions;
    if (viewers !== null && viewers !== undefined) {
      local.push([Date.now(), viewers]);
      local = local.filter((p) => p[0] > Date.now() - 24 * 3600 * 1000).slice(-2000);
      sessionStorage.setItem(HISTORY_KEY, JSON.stringify(local));
    }
    const series = viewerSeries(data) || { points: local, kept: "browser", startedMs: null };
    if (series.kept === "server" && viewers !== null && viewers !== undefined) series.points.push([Date.now(), viewers]);
    const running = o.channels_running ?? o.running;
    const failing = o.channels_failing ?? o.failing;
    const nodes = (o.nodes && o.nodes.length ? o.nodes : null) || (data.servers && data.servers.items) || [];
    const failures = o.recent_failures || o.failures || [];
    const range = RANGES.find((r) => r.hours === hours);
    clear(stats,
      h("div", { class: "stats" },
        card("Viewers now", formatValue(viewers ?? "—")),
        card("Bandwidth out", bits(o.bandwidth_out_bps ?? o.bandwidth_bps ?? o.bandwidth)),
        card("Channels", running !== undefined ? `${running} running` : formatValue(data.channels ?? "—"), failing !== undefined ? `${failing} failing` : running === undefined ? "live status appears with the live engine" : null),
        card("Lines", formatValue(data.lines ?? "—"), data.expiringLines !== null ? `${data.expiringLines} expire within 7 days` : null),
        ...hostCards(data.host)));
    chartTitle.textContent = `Viewers, ${range.title}`;
    clear(chartSlot,
      lineChart(series.points, { label: `Viewers over the ${range.title}`, spanMs: hours * 3600 * 1000, startedMs: series.startedMs }),
      series.kept === "browser" ? h("p", { class: "muted" }, "Sampled by this browser since you opened the panel.")
        : series.startedMs && series.startedMs > Date.now() - hours * 3600 * 1000 ? h("p", { class: "muted" }, `Kept since the server started, ${new Date(series.startedMs).toLocaleString()}; the shaded part is before that.`) : null);
    clear(rest,
      h("div", { class: "two" },
        h("section", { class: "card" }, h("h2", {}, "Nodes"), nodes.length
          ? h("ul", { class: "plain" }, nodes.map((n) => h("li", {}, h("strong", {}, n.name || `#${n.id}`), " ", h("span", { class: `badge state-${n.status}` }, n.status || "?"),
            n.load !== undefined ? ` load ${Math.round(n.load * 100)}%` : n.viewers !== undefined ? ` ${n.viewers}/${n.capacity} viewers` : n.capacity ? ` capacity ${n.capacity}` : "")))
          : h("p", { class: "muted" }, "No nodes attached yet.")),
        h("section", { class: "card" }, h("h2", {}, "Recent failures"), failures.length
          ? h("ul", { class: "plain failures" }, failures.slice(0, 8).map((f) => h("li", {}, h("time", {}, typeof f.at === "number" ? when(f.at) : formatValue(f.at || f.time)), " ", h("strong", {}, f.channel || f.name || f.channel_id || ""), " ", h("code", {}, f.reason || f.message || ""))))
          : h("p", { class: "muted" }, "None."))));
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${POLL_MS / 1000} s.`;
  }

  let generation = 0;
  const loop = async (g = generation) => {
    try {
      await tick();
    } catch (error) {
      updated.textContent = error.message;
    }
    if (!stopped && g === generation) timer = setTimeout(() => loop(g), POLL_MS);
  };
  // A new range is drawn at once, not at the next poll (and the old polling ends).
  function refresh() {
    generation += 1;
    clearTimeout(timer);
    loop(generation);
  }
  await loop();
  return { leave: () => { stopped = true; clearTimeout(timer); } };
}
