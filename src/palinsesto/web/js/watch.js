// The public watch page: /watch/<share ref>. Plays the channel in the browser for anyone
// with the link, with a line's credentials when the channel requires them. When the
// broadcast stops the page says so and keeps trying, so it resumes by itself. A movie's
// link (kind "movie") plays the movie as HLS with a line's credentials, from its start.

import { applyBranding } from "./branding.js";
import { playHls } from "./player.js";

const ref = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const title = document.getElementById("title");
const status = document.getElementById("status");
const form = document.getElementById("credentials");
const video = document.getElementById("video");
const controls = document.getElementById("controls");
const unmute = document.getElementById("unmute");

// Live video that has not moved for this long is a broadcast that stopped.
const STALL_MS = 8000;
// A fresh player needs a few seconds to fetch and buffer: give each attempt this long.
const RETRY_MS = 10000;
const OFFLINE = "Offline: the channel is not broadcasting right now. This page resumes by itself when it returns.";

unmute.addEventListener("click", () => {
  video.muted = !video.muted;
  if (!video.muted) video.play().catch(() => {});
});
video.addEventListener("volumechange", () => {
  unmute.textContent = video.muted ? "Unmute" : "Mute";
  unmute.setAttribute("aria-pressed", String(!video.muted));
});

function start(getUrl) {
  let stop = () => {};
  let lastTime = -1;
  let lastMove = Date.now();
  let offline = false;
  let nextTry = 0;
  status.textContent = "Connecting…";
  controls.hidden = false;

  const connect = async () => {
    stop();
    lastTime = -1;
    const url = await getUrl();
    stop = await playHls(video, url, { onError: () => goOffline(), refresh: getUrl });
  };
  const goOffline = () => {
    if (offline) return;
    offline = true;
    status.textContent = OFFLINE;
    document.body.dataset.state = "offline";
    nextTry = Date.now() + RETRY_MS;
  };
  video.addEventListener("playing", () => {
    lastMove = Date.now();
  });
  // One watchdog: live when the picture moves, offline when it has stood still too long,
  // and while offline a fresh player every few seconds until one plays.
  setInterval(() => {
    const now = Date.now();
    // Moving means forward from a known position (a new player starts again from 0).
    const t = video.currentTime;
    const moved = lastTime >= 0 && t > lastTime && !video.paused;
    lastTime = t;
    if (moved) {
      lastMove = now;
      if (offline || status.textContent !== "Live") {
        offline = false;
        status.textContent = "Live";
        document.body.dataset.state = "live";
      }
      return;
    }
    if (!offline && now - lastMove > STALL_MS) goOffline();
    if (offline && now >= nextTry) {
      nextTry = now + RETRY_MS;
      lastMove = now;
      connect().catch(() => {});
    }
  }, 1000);
  connect().catch((error) => { status.textContent = error.message; });
}

// A movie has an end and may be paused: no "Live", no offline watchdog.
async function startMovie(url) {
  status.textContent = "Loading…";
  controls.hidden = false;
  video.setAttribute("aria-label", "Movie");
  video.addEventListener("playing", () => { status.textContent = "Playing"; document.body.dataset.state = "playing"; });
  video.addEventListener("pause", () => { if (!video.ended) status.textContent = "Paused"; });
  video.addEventListener("ended", () => { status.textContent = "Ended"; document.body.dataset.state = "ended"; });
  await playHls(video, url, { onError: (message) => { status.textContent = message; } });
}

async function watchInfo() {
  const response = await fetch(`/api/v1/watch/${encodeURIComponent(ref)}`);
  return { response, info: await response.json().catch(() => null) };
}

async function main() {
  const { response, info } = await watchInfo();
  if (!response.ok) {
    title.textContent = ref.startsWith("m") ? "Movie not found" : "Channel not found";
    status.textContent = (info && info.error && info.error.message) || "This link does not work.";
    return;
  }
  title.textContent = info.name;
  applyBranding(info.branding, { nameEl: document.getElementById("brand-name"), logoSlot: document.getElementById("brand-logo") });
  document.title = `${info.name} — ${(info.branding && info.branding.name) || "Palinsesto"}`;
  if (info.access === "public" && info.hls_url) {
    // A signed URL for this channel only; each reconnect asks for a fresh one.
    let first = info.hls_url;
    start(async () => {
      if (first) {
        const url = first;
        first = null;
        return url;
      }
      return (await watchInfo()).info.hls_url;
    });
    return;
  }
  const params = new URLSearchParams(location.search);
  const fill = (u, p) => info.hls_path.replace("{username}", encodeURIComponent(u)).replace("{password}", encodeURIComponent(p));
  const play = (url) => (info.kind === "movie" ? startMovie(url) : start(async () => url));
  if (params.get("username") && params.get("password")) {
    await play(fill(params.get("username"), params.get("password")));
    return;
  }
  if (info.kind === "movie") form.querySelector("p").textContent = "This movie is for subscribers: enter your line's username and password.";
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    form.hidden = true;
    play(fill(form.elements.username.value, form.elements.password.value)).catch((error) => { status.textContent = error.message; });
  });
}

main().catch((error) => { status.textContent = error.message; });
