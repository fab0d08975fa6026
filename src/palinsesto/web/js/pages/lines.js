// Lines: copy the M3U URL and the Xtream login; the rest is the generic page.

import { copyText, h } from "../dom.js";

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
  if (!line.password) return [];
  return [h("section", { class: "action" }, h("h3", {}, "Give to the viewer"),
    h("div", { class: "copy-row" }, h("code", {}, m3uUrl(line)), h("button", { type: "button", onclick: () => copyText(m3uUrl(line), "M3U URL copied") }, "Copy M3U URL")),
    h("div", { class: "copy-row" }, h("code", {}, `${location.origin} · ${line.username}`), h("button", { type: "button", onclick: () => copyText(xtreamLogin(line), "Xtream login copied") }, "Copy Xtream login")))];
}
