// The public watch page: /watch/<share ref>. Plays the channel in the browser for anyone
// with the link, with a line's credentials when the channel requires them.

import { playHls } from "./player.js";

const ref = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const title = document.getElementById("title");
const status = document.getElementById("status");
const form = document.getElementById("credentials");
const video = document.getElementById("video");

function start(url, refresh) {
  status.textContent = "Connecting…";
  video.addEventListener("playing", () => { status.textContent = "Live"; }, { once: true });
  playHls(video, url, { onError: (message) => { status.textContent = message; }, refresh });
}

async function watchInfo() {
  const response = await fetch(`/api/v1/watch/${encodeURIComponent(ref)}`);
  return { response, info: await response.json().catch(() => null) };
}

async function main() {
  const { response, info } = await watchInfo();
  if (!response.ok) {
    title.textContent = "Channel not found";
    status.textContent = (info && info.error && info.error.message) || "This link does not work.";
    return;
  }
  title.textContent = info.name;
  document.title = `${info.name} — Palinsesto`;
  if (info.access === "public" && info.hls_url) {
    // A signed URL for this channel only; when it expires, ask for a fresh one.
    start(info.hls_url, async () => (await watchInfo()).info.hls_url);
    return;
  }
  const params = new URLSearchParams(location.search);
  const fill = (u, p) => info.hls_path.replace("{username}", encodeURIComponent(u)).replace("{password}", encodeURIComponent(p));
  if (params.get("username") && params.get("password")) {
    start(fill(params.get("username"), params.get("password")));
    return;
  }
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    form.hidden = true;
    start(fill(form.elements.username.value, form.elements.password.value));
  });
}

main().catch((error) => { status.textContent = error.message; });
