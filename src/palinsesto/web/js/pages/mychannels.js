// A creator's own pages: its channels (how to go live, stream key, scheduled shows) and its
// audience (viewers now, peak and watch time over 24 h, by app and by country).

import { api, get } from "../api.js";
import { clear, copyText, formatValue, h, toast } from "../dom.js";

const POLL_MS = 3000;

function copyRow(label, value, what) {
  return h("div", { class: "copy-row" }, h("span", {}, label), h("code", {}, value || "—"),
    value ? h("button", { type: "button", onclick: () => copyText(value, `${what} copied`) }, `Copy ${what.toLowerCase()}`) : null);
}

async function channelCard(channel) {
  const go = await get(`/creator/channels/${channel.id}/go-live`);
  const shows = await get(`/creator/channels/${channel.id}/shows`);
  const title = h("input", { id: `show-title-${channel.id}`, required: true });
  const start = h("input", { id: `show-start-${channel.id}`, type: "datetime-local", required: true });
  const minutes = h("input", { id: `show-minutes-${channel.id}`, type: "number", min: 1, max: 1440, value: 60 });
  const error = h("p", { class: "form-error", role: "alert" });
  const list = h("ul", {}, shows.map((s) => h("li", {}, `${s.title} — ${formatValue(s.start)}`)));
  const form = h("form", { class: "inline-form" },
    h("label", { for: title.id }, "Show"), title, h("label", { for: start.id }, "Starts"), start,
    h("label", { for: minutes.id }, "Minutes"), minutes, h("button", { type: "submit" }, "Schedule"), error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const begin = new Date(start.value);
    const end = new Date(begin.getTime() + Number(minutes.value) * 60000);
    try {
      const show = await api("POST", `/creator/channels/${channel.id}/shows`, { json: { title: title.value.trim(), start: begin.toISOString(), end: end.toISOString() } });
      list.append(h("li", {}, `${show.title} — ${formatValue(show.start)}`));
      form.reset();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return h("section", { class: "card", dataset: { channel: channel.id } },
    h("h2", {}, channel.name, " ", h("span", { class: "muted" }, `(${go.status})`)),
    h("p", { class: "muted" }, go.note),
    go.rtmp_url ? copyRow("Server", go.rtmp_url, "Server") : null,
    go.srt_url ? copyRow("SRT address", go.srt_url, "SRT address") : null,
    copyRow("Stream key", go.stream_key, "Key"),
    copyRow("Watch page", channel.watch_url, "Link"),
    h("h3", {}, "Scheduled shows (in the guide)"), list, form);
}

export async function myChannelsPage(main) {
  clear(main, h("h1", {}, "My channels"), h("p", { class: "muted" }, "Loading…"));
  const channels = await get("/creator/channels");
  if (!channels.length) {
    clear(main, h("h1", {}, "My channels"), h("p", {}, "No channel is yours yet: the panel's owner gives you one."));
    return {};
  }
  const cards = await Promise.all(channels.map(channelCard));
  clear(main, h("h1", {}, "My channels"), cards);
  return {};
}

function counts(map) {
  const entries = Object.entries(map);
  return entries.length ? entries.map(([k, v]) => `${k}: ${v}`).join(", ") : "—";
}

function duration(seconds) {
  const h_ = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (seconds < 60) return `${seconds} s`;
  return h_ ? `${h_} h ${m} min` : `${m} min`;
}

export async function audiencePage(main) {
  const table = h("table", { class: "data", id: "audience" });
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" }, "Loading…");
  clear(main, h("h1", {}, "Audience"), status, h("div", { class: "table-wrap" }, table));
  let timer = null;
  let stopped = false;
  async function load() {
    try {
      const data = await get("/creator/audience");
      if (stopped) return;
      const cols = ["Channel", "Viewers now", "Peak (24 h)", "Watch time (24 h)", "Apps", "Countries"];
      clear(table, h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, data.items.map((r) => h("tr", { dataset: { channel: r.channel_id } },
          h("td", { "data-label": "Channel" }, r.name),
          h("td", { "data-label": "Viewers now", class: "viewers-now" }, String(r.viewers_now)),
          h("td", { "data-label": "Peak" }, String(r.peak_viewers)),
          h("td", { "data-label": "Watch time" }, duration(r.watch_seconds)),
          h("td", { "data-label": "Apps" }, counts(r.by_app)),
          h("td", { "data-label": "Countries" }, counts(r.by_country))))));
      status.textContent = `Refreshes every ${POLL_MS / 1000} s.`;
    } catch (err) {
      if (!stopped) toast(err.message, "error");
    }
    if (!stopped) timer = setTimeout(load, POLL_MS);
  }
  await load();
  return { leave() { stopped = true; clearTimeout(timer); } };
}
