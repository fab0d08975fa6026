// A channel's detail: live status (refreshed while open) with start/stop, the OBS settings
// (the server's real RTMP address and the stream key), the share link and a preview player.

import { api, get, getBlob } from "../api.js";
import { clear, copyText, h, toast } from "../dom.js";
import { has } from "../openapi.js";
import { playHls } from "../player.js";

const STATUS_POLL_MS = 3000;
const PICTURE_POLL_MS = 10000; // the server makes a new thumbnail at most every ~10 s

export function channelStatusCell(row) {
  // Filled in by liveColumn() once the table is drawn (one request for the whole page).
  return h("span", { class: "badge", "data-live-channel": row.id }, "…");
}

let liveRound = 0;

/** After the channels table renders: the live state of its rows, in one request, again
 * every few seconds while this rendering of the table is on screen. */
export async function liveColumn(items, table, _ctx, round = ++liveRound) {
  if (!items.length || !has("/live/channels")) return;
  let states = [];
  try {
    states = (await get("/live/channels", { ids: items.map((r) => r.id).join(",") })).items;
  } catch {
    states = [];
  }
  if (round !== liveRound || !table.isConnected) return;
  setTimeout(() => liveColumn(items, table, _ctx, round), STATUS_POLL_MS);
  for (const s of states) {
    const cell = table.querySelector(`[data-live-channel="${s.channel_id}"]`);
    if (!cell) continue;
    cell.className = `badge state-${s.status}`;
    cell.textContent = s.status === "running" ? `running · ${s.viewers} watching` : s.status;
  }
}

/** Where to publish, as the server says (GET /live/ingest): with a channel whose tenant
 * has streaming nodes, the node it is placed on and that node's RTMP and/or SRT address
 * (only those that work); null when unknown. */
export async function ingestInfo(channelId) {
  if (!has("/live/ingest")) return null;
  try {
    return await get("/live/ingest", channelId ? { channel_id: channelId } : {});
  } catch {
    return null;
  }
}

/** The RTMP server URL for OBS (see ingestInfo). */
export async function ingestUrl(channelId) {
  const info = await ingestInfo(channelId);
  return info ? info.rtmp_url : null;
}

export async function liveStatus(channelId) {
  if (!has("/live/channels/{channel_id}")) return null;
  try {
    return await get(`/live/channels/${channelId}`);
  } catch {
    return null;
  }
}

/** A short-lived signed preview URL (no admin token in it; see routes/live.py). */
export async function previewUrl(channelId) {
  return (await api("POST", `/live/channels/${channelId}/preview`)).url;
}

export async function shareLink(channelId) {
  try {
    return (await get(`/channels/${channelId}/share-link`)).url;
  } catch {
    return null;
  }
}

function duration(seconds) {
  const s = Math.round(seconds || 0);
  if (!s) return "—";
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  return hh ? `${hh} h ${mm} min` : mm ? `${mm} min ${s % 60} s` : `${s} s`;
}

export const when = (unix) => new Date(unix * 1000).toLocaleString();

function statusBlock(status) {
  const src = status.active_source;
  const rows = [
    ["State", h("span", { class: `badge state-${status.status}`, "data-testid": "live-state" }, status.status)],
    ["Source", src ? `#${src.index + 1} ${src.kind}${src.url ? ` (${src.url})` : ""}` : "—"],
    ["Bitrate", status.bitrate_kbps ? `${Math.round(status.bitrate_kbps)} kbit/s` : "—"],
    ["Frame rate", status.fps ? `${status.fps} fps` : "—"],
    ["Viewers", String(status.viewers ?? 0)],
    ["Uptime", duration(status.uptime_seconds)],
    ["Restarts", String(status.restarts ?? 0)],
  ];
  if (status.retry_at) {
    // Backing off after every source failed: when the engine tries again.
    rows.push(["Next retry", h("span", { "data-testid": "next-retry" }, `${when(status.retry_at)} (in ${Math.round(status.retry_in_seconds)} s, failed ${status.failed_rounds} times in a row)`)]);
  }
  const failures = (status.failures || []).slice().reverse().slice(0, 5);
  return [
    h("dl", { class: "props" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h4", {}, "Last failures"),
    failures.length
      ? h("ul", { class: "plain failures" }, failures.map((f) => h("li", {}, h("time", {}, when(f.at)), " ", f.source_index >= 0 ? `source #${f.source_index + 1}: ` : "", h("code", {}, f.message))))
      : h("p", { class: "muted" }, "None."),
  ];
}

function audioText(a) {
  const channels = a.channel_layout || (a.channels ? `${a.channels} ch` : "");
  return [a.codec, a.language, channels, a.sample_rate ? `${a.sample_rate} Hz` : ""].filter(Boolean).join(", ");
}

function probeRows(probe) {
  const v = probe.video;
  const rows = [
    ["Video", v ? [v.codec, v.profile].filter(Boolean).join(" ") : "none"],
    ["Resolution", h("span", { "data-testid": "probe-resolution" }, v && v.width ? `${v.width}×${v.height}` : "—")],
    ["Frame rate", v && v.frame_rate ? `${v.frame_rate} fps` : "—"],
    ["Audio", probe.audio.length ? h("ul", { class: "plain" }, probe.audio.map((a) => h("li", {}, audioText(a)))) : "none"],
    ["Bitrate", probe.bitrate_kbps ? `${Math.round(probe.bitrate_kbps)} kbit/s` : "—"],
  ];
  return h("dl", { class: "props" }, rows.flatMap(([k, val]) => [h("dt", {}, k), h("dd", {}, val)]));
}

/** The running channel's picture and stream facts (GET …/probe and …/thumbnail.jpg), taken
 * from its own output by this server's engine; asked only while the channel runs here. */
function pictureBlock(channel) {
  const img = h("img", { class: "thumbnail", alt: `Latest picture of ${channel.name}`, "data-testid": "channel-thumbnail", hidden: true });
  const facts = h("div", {}, h("p", { class: "muted" }, "Shown while the channel runs."));
  const node = h("div", { class: "picture" }, h("h4", {}, "Picture"), img, facts);
  let url = null;
  let last = 0;
  let busy = false;
  const drop = () => {
    if (url) URL.revokeObjectURL(url);
    url = null;
    img.hidden = true;
  };
  const update = async (status) => {
    if (!status || status.status !== "running" || status.nodes) {
      drop();
      last = 0;
      clear(facts, h("p", { class: "muted" }, status && status.nodes
        ? "The picture is shown only for channels this server runs (not those on remote nodes)."
        : "Shown while the channel runs."));
      return;
    }
    if (busy || Date.now() - last < PICTURE_POLL_MS) return;
    busy = true;
    last = Date.now();
    try {
      const [probe, blob] = await Promise.all([
        get(`/live/channels/${channel.id}/probe`),
        getBlob(`/live/channels/${channel.id}/thumbnail.jpg`, { t: last }),
      ]);
      drop();
      url = URL.createObjectURL(blob);
      img.src = url;
      img.hidden = false;
      clear(facts, probeRows(probe));
    } catch (error) {
      clear(facts, h("p", { class: "muted" }, error.message));
    } finally {
      busy = false;
    }
  };
  return { node, update, drop };
}

function liveSection(channel, { dialog, writable }) {
  const body = h("div", { "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  const control = (verb) => async () => {
    try {
      const status = await api("POST", `/live/channels/${channel.id}/${verb}`);
      toast(verb === "start" ? "Channel starting." : "Channel stopped.");
      clear(body, ...statusBlock(status));
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const buttons = writable
    ? h("div", { class: "toolbar" },
      h("button", { type: "button", class: "secondary", onclick: control("start") }, "Start channel"),
      h("button", { type: "button", class: "secondary", onclick: control("stop") }, "Stop channel"))
    : null;
  let timer = null;
  let open = true;
  let first = true;
  const picture = has("/live/channels/{channel_id}/thumbnail.jpg") ? pictureBlock(channel) : null;
  const refresh = async () => {
    const status = await liveStatus(channel.id);
    // Closed, or replaced by a fresh rendering of the item (after an action): stop polling.
    if (!open || (!first && !body.isConnected)) return;
    first = false;
    if (status) clear(body, ...statusBlock(status));
    else clear(body, h("p", { class: "muted" }, "The live engine is not running on this server."));
    if (picture) picture.update(status);
    timer = setTimeout(refresh, STATUS_POLL_MS);
  };
  dialog.addEventListener("closed", () => { open = false; clearTimeout(timer); if (picture) picture.drop(); });
  refresh();
  return h("section", { class: "action" }, h("h3", {}, "Live status"), buttons, body, picture ? picture.node : null);
}

function copyRow(label, value, what, attrs = {}) {
  return h("div", { class: "copy-row" }, h("span", {}, label), h("code", attrs, value), h("button", { type: "button", onclick: () => copyText(value, `${what} copied`) }, `Copy ${what.toLowerCase()}`));
}

export async function channelDetail(channel, ctx, { dialog, writable }) {
  const sections = [];
  const carried = Boolean(channel.syndication_id); // another panel's: its live state is the owner's
  if (has("/live/channels/{channel_id}") && !carried) sections.push(liveSection(channel, { dialog, writable }));
  if (channel.stream_key) {
    const info = (await ingestInfo(channel.id)) || { rtmp_url: null, srt_url: null, node_id: null, note: "RTMP ingest is turned off on this server." };
    const local = info.node_id == null && info.rtmp_url; // this server's own ingest: no note needed
    sections.push(h("section", { class: "action" }, h("h3", {}, "Publish from OBS"),
      info.rtmp_url ? copyRow("Server", info.rtmp_url, "Server URL", { "data-testid": "ingest-rtmp" }) : null,
      info.srt_url ? copyRow("SRT address", info.srt_url, "SRT address", { "data-testid": "ingest-srt" }) : null,
      local ? null : h("p", { class: "muted", "data-testid": "ingest-note" }, info.note),
      copyRow("Stream key", channel.stream_key, "Stream key", { class: "secret", "data-testid": "stream-key" })));
  }
  if (carried) {
    sections.push(h("section", { class: "action" }, h("h3", {}, "Carried from another panel"),
      h("p", { class: "muted" }, "Its source, key and live state are its owner's. Number it and place it in bouquets here; stop carrying it from the Directory page."),
      h("a", { href: "#/directory" }, "Open the Directory")));
  } else if (writable && has("/syndication/offers", "post")) {
    sections.push(h("section", { class: "action" }, h("h3", {}, "Syndication"),
      h("a", { href: `#/offers?channel_id=${channel.id}` }, "Offer this channel to other panels")));
  }
  const link = await shareLink(channel.id);
  if (link) {
    sections.push(h("section", { class: "action" }, h("h3", {}, "Share"),
      h("div", { class: "copy-row" }, h("a", { href: link, target: "_blank", rel: "noopener" }, link), h("button", { type: "button", onclick: () => copyText(link, "Share link copied") }, "Copy share link")),
      h("p", { class: "muted" }, channel.public_watch ? "Public: anyone with the link watches in the browser." : "Viewers sign in with a line's username and password (tick “Public watch” to open it to anyone with the link).")));
  }
  if (has("/live/channels/{channel_id}/preview", "post") && !carried) {
    const video = h("video", { controls: true, muted: true, playsinline: true, class: "preview", "aria-label": `Preview of ${channel.name}`, hidden: true });
    const note = h("p", { class: "muted", role: "status" });
    let stop = null;
    const button = h("button", { type: "button", class: "secondary", onclick: async () => {
      button.disabled = true;
      note.textContent = "Connecting…";
      video.addEventListener("playing", () => { note.textContent = "Playing."; }, { once: true });
      try {
        stop = await playHls(video, await previewUrl(channel.id), { onError: (m) => { note.textContent = m; }, refresh: () => previewUrl(channel.id) });
      } catch (error) {
        note.textContent = error.message;
        button.disabled = false;
      }
    } }, "Play preview");
    dialog.addEventListener("closed", () => { if (stop) stop(); });
    sections.push(h("section", { class: "action" }, h("h3", {}, "Preview"), button, note, video));
  }
  return sections;
}
