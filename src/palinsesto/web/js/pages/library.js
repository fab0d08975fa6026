// Library folders (scan status with a progress bar, "Scan now", the files ffmpeg could not
// read and why) and a movie's detail (what ffmpeg found in its file, and a preview player
// fed by a short-lived signed URL: no admin token in it, see routes/movies.py).

import { api, get } from "../api.js";
import { clear, copyText, h, toast } from "../dom.js";
import { has } from "../openapi.js";
import { playHls } from "../player.js";

const POLL_MS = 1000;

function duration(seconds) {
  const s = Math.round(seconds || 0);
  if (!s) return "—";
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

const STATE_TEXT = { never: "never scanned", running: "scanning", done: "scanned", failed: "failed" };

/** The table's scan column: a badge, and a progress bar while a scan runs. */
export function libraryScanCell(row) {
  const scan = row.scan || { state: "never" };
  const cell = h("span", { "data-library-scan": row.id });
  fillScanCell(cell, scan);
  return cell;
}

function fillScanCell(cell, scan) {
  const text = scan.state === "running" ? `scanning · ${scan.percent}%` : STATE_TEXT[scan.state] || scan.state;
  clear(cell, h("span", { class: `badge state-${scan.state}` }, text),
    scan.state === "running" ? h("progress", { max: 100, value: scan.percent, "aria-label": "Scan progress" }) : null);
}

let round = 0;

/** While any listed library is being scanned, refresh its cell every second. */
export async function libraryProgress(items, table, _ctx, mine = ++round) {
  const running = items.filter((r) => r.scan && r.scan.state === "running");
  if (!running.length) return;
  await new Promise((done) => setTimeout(done, POLL_MS));
  if (mine !== round || !table.isConnected) return;
  for (const row of running) {
    try {
      row.scan = await get(`/libraries/${row.id}/scan`);
    } catch {
      continue;
    }
    const cell = table.querySelector(`[data-library-scan="${row.id}"]`);
    if (cell) fillScanCell(cell, row.scan);
  }
  libraryProgress(items, table, _ctx, mine);
}

function scanBlock(scan) {
  const rows = [
    ["State", h("span", { class: `badge state-${scan.state}`, "data-testid": "scan-state" }, STATE_TEXT[scan.state] || scan.state)],
    ["Progress", h("span", {}, h("progress", { max: 100, value: scan.percent, "aria-label": "Scan progress", "data-testid": "scan-progress" }), ` ${scan.percent}%`)],
    ["Files seen", String(scan.files_seen)],
    ["Probed", `${scan.files_probed} of ${scan.files_to_probe} new or changed`],
    ["Unchanged", String(scan.files_unchanged)],
    ["Unreadable", String(scan.files_failed)],
    ["Missing", String(scan.files_missing)],
  ];
  if (scan.state === "running" && scan.current_file) rows.push(["Now", h("code", {}, scan.current_file)]);
  if (scan.finished_at) rows.push(["Finished", new Date(scan.finished_at * 1000).toLocaleString()]);
  if (scan.error) rows.push(["Error", h("code", {}, scan.error)]);
  return h("dl", { class: "props" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

async function problemFiles(library) {
  const lists = [];
  for (const [status, title] of [["broken", "Files ffmpeg could not read"], ["missing", "Files gone from the folder"]]) {
    const data = await get(`/libraries/${library.id}/files`, { status, per_page: 100 }).catch(() => null);
    if (!data || !data.items.length) continue;
    lists.push(h("h4", {}, `${title} (${data.total})`),
      h("ul", { class: "plain failures", "data-testid": `files-${status}` }, data.items.map((f) => h("li", {}, h("code", {}, f.rel_path), " — ", f.probe_error))));
  }
  return lists.length ? lists : [h("p", { class: "muted" }, "Every file found was readable.")];
}

export async function libraryDetail(library, _ctx, { dialog, writable, reload }) {
  const body = h("div", { "aria-live": "polite" }, scanBlock(library.scan));
  const problems = h("div", {}, ...(await problemFiles(library)));
  let timer = null;
  let open = true;
  dialog.addEventListener("closed", () => { open = false; clearTimeout(timer); });
  const follow = async () => {
    let scan;
    try {
      scan = await get(`/libraries/${library.id}/scan`);
    } catch (error) {
      toast(error.message, "error");
      return;
    }
    if (!open) return;
    clear(body, scanBlock(scan));
    if (scan.state === "running") {
      timer = setTimeout(follow, POLL_MS);
    } else {
      clear(problems, ...(await problemFiles(library)));
      if (reload) reload();
    }
  };
  if (library.scan.state === "running") follow();
  const button = writable && has("/libraries/{library_id}/scan", "post")
    ? h("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        await api("POST", `/libraries/${library.id}/scan`);
        toast("Scan started.");
        follow();
      } catch (error) {
        toast(error.message, "error");
      }
    } }, "Scan now")
    : null;
  return [
    h("section", { class: "action" }, h("h3", {}, "Scan"), button, body),
    h("section", { class: "action" }, h("h3", {}, "Problems"), problems),
  ];
}

function probeBlock(movie) {
  const info = movie.media_info || {};
  if (movie.probe_error) return h("p", { class: "form-error", "data-testid": "probe-error" }, `ffmpeg could not read the file: ${movie.probe_error}`);
  if (!info.container) return h("p", { class: "muted" }, "Not probed (a remote source, or no source yet).");
  const video = info.video;
  const audio = info.audio || [];
  const subtitles = info.subtitles || [];
  const rows = [
    ["Container", info.container],
    ["Duration", duration(info.duration_secs)],
    ["Bitrate", info.bitrate_kbps ? `${info.bitrate_kbps} kbit/s` : "—"],
    ["Video", video ? `${video.codec_name}${video.width ? ` · ${video.width}×${video.height}` : ""}${video.avg_frame_rate ? ` · ${video.avg_frame_rate} fps` : ""}` : "none"],
    ["Audio", audio.length ? h("ul", { class: "plain" }, audio.map((a) => h("li", {}, `${(a.tags && a.tags.language) || "und"} · ${a.codec_name}${a.channel_layout ? ` · ${a.channel_layout}` : ""}`))) : "none"],
    ["Subtitles", subtitles.length ? h("ul", { class: "plain" }, subtitles.map((t) => h("li", {}, `${(t.tags && t.tags.language) || "und"} · ${t.codec_name}${t.tags && t.tags.title ? ` · ${t.tags.title}` : ""}`))) : "none"],
  ];
  return h("dl", { class: "props", "data-testid": "probe" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export async function movieDetail(movie, _ctx, { dialog }) {
  const sections = [h("section", { class: "action" }, h("h3", {}, "File"), probeBlock(movie))];
  if (has("/movies/{movie_id}/preview", "post") && movie.source_url) {
    const video = h("video", { controls: true, muted: true, playsinline: true, class: "preview", "aria-label": `Preview of ${movie.name}`, hidden: true });
    const note = h("p", { class: "muted", role: "status" });
    let stopHls = () => {};
    const button = h("button", { type: "button", class: "secondary", onclick: async () => {
      button.disabled = true;
      note.textContent = "Loading…";
      try {
        const preview = await api("POST", `/movies/${movie.id}/preview`);
        note.textContent = preview.note;
        video.hidden = false;
        video.addEventListener("playing", () => { note.textContent = "Playing."; }, { once: true });
        video.addEventListener("error", () => { note.textContent = "The browser could not play this file."; }, { once: true });
        if (!preview.browser_playable && preview.hls_url) {
          // The file as HLS (cut into MPEG-TS segments on the server, not re-encoded).
          stopHls = await playHls(video, preview.hls_url, { onError: (message) => { note.textContent = message; } });
          return;
        }
        video.src = preview.url;
        video.play().catch(() => {});
      } catch (error) {
        note.textContent = error.message;
        button.disabled = false;
      }
    } }, "Play preview");
    dialog.addEventListener("closed", () => { stopHls(); video.pause(); video.removeAttribute("src"); video.load(); });
    sections.push(h("section", { class: "action" }, h("h3", {}, "Preview"), button, note, video));
  }
  if (has("/movies/{movie_id}/share-link") && movie.source_url) {
    // The public watch page plays the movie as HLS with a line's username and password.
    const link = (await get(`/movies/${movie.id}/share-link`)).url;
    sections.push(h("section", { class: "action" }, h("h3", {}, "Share"),
      h("div", { class: "copy-row" }, h("a", { href: link, target: "_blank", rel: "noopener", "data-testid": "movie-share-link" }, link), h("button", { type: "button", onclick: () => copyText(link, "Share link copied") }, "Copy share link")),
      h("p", { class: "muted" }, "Viewers sign in with a line's username and password; the play counts as one of the line's connections.")));
  }
  return sections;
}
