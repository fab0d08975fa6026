// Creator quick start: one page from "new live channel" to OBS settings and a share link.

import { api, get } from "../api.js";
import { clear, copyText, h } from "../dom.js";
import { fieldsFromSchema, renderForm } from "../form.js";
import { has, itemActions, requestSchema } from "../openapi.js";
import { tenantHint } from "../table.js";
import { ingestUrl, liveStatus, shareLink } from "./channel.js";

const ENCODER_POLL_MS = 2000;
// How long "Waiting for your encoder…" stays alone before the page explains what to check.
const ENCODER_HELP_AFTER_MS = 30000;

/** "Waiting for your encoder…" until the channel's publisher is connected, then "Live";
 * after a while with nothing arriving, what to check. Polls while the card is on screen. */
function encoderStatus(channelId) {
  const line = h("p", { class: "encoder-state", role: "status" }, "Waiting for your encoder…");
  const help = h("div", { class: "muted", hidden: true },
    h("p", {}, "Nothing is arriving yet. Check that:"),
    h("ul", {},
      h("li", {}, "the Server and Stream key in OBS are exactly the ones above (copy them again);"),
      h("li", {}, "OBS shows “LIVE” at its bottom right after you pressed “Start Streaming”;"),
      h("li", {}, "your network lets OBS reach the server's RTMP port (1935 unless the server says otherwise).")));
  const card = h("section", { class: "card" }, h("h2", {}, "Your encoder"), line, help);
  const started = Date.now();
  const poll = async () => {
    if (!card.isConnected && Date.now() - started > ENCODER_POLL_MS) return; // the user moved on
    const status = await liveStatus(channelId);
    const live = Boolean(status && status.publisher_connected);
    line.textContent = live ? "Live: your encoder is connected and viewers can watch." : "Waiting for your encoder…";
    line.classList.toggle("is-live", live);
    help.hidden = live || Date.now() - started < ENCODER_HELP_AFTER_MS;
    setTimeout(poll, ENCODER_POLL_MS);
  };
  poll();
  return card;
}

function copyRow(label, value, what) {
  return h("div", { class: "copy-row" }, h("span", {}, label), h("code", {}, value), h("button", { type: "button", onclick: () => copyText(value, `${what} copied`) }, `Copy ${what.toLowerCase()}`));
}

async function withStreamKey(channel) {
  if (channel.stream_key) return channel;
  const rotate = itemActions("/channels").find((a) => /key/.test(a.verb));
  if (!rotate) return channel;
  const result = await api("POST", rotate.path.replace(/\{[^}]+\}/, channel.id));
  return { ...channel, ...(result && result.stream_key ? { stream_key: result.stream_key } : await get(`/channels/${channel.id}`)) };
}

export async function quickStartPage(main, ctx) {
  const out = h("div", { class: "quick-out", "aria-live": "polite" });
  clear(main, h("h1", {}, "Go live"),
    h("p", {}, "Create a live channel, paste two values into OBS, share one link. That's all."));
  if (!has("/channels", "post")) {
    main.append(h("p", { class: "muted" }, "Channels are not available on this server yet."));
    return {};
  }
  const schema = requestSchema("/channels", "post");
  const props = { name: schema.properties.name };
  if (schema.properties.public_watch) props.public_watch = schema.properties.public_watch;
  if (schema.properties.tenant_id) props.tenant_id = schema.properties.tenant_id;
  const fields = fieldsFromSchema({ ...schema, properties: props }, {
    name: { label: "Channel name", help: "What viewers see, e.g. “Drum lessons live”." },
    public_watch: { label: "Anyone with the link can watch", help: "No line needed on the watch page. Leave it off to sell access with lines." },
    tenant_id: tenantHint(ctx.me),
  });
  const pushKind = (schema.properties.sources && "push_rtmp") || null;
  const form = renderForm({ fields, submitLabel: "Create live channel", onSubmit: async (values) => {
    const body = { ...values };
    if (pushKind) body.sources = [{ kind: pushKind, url: "" }];
    if (schema.properties.mode) body.mode = "always_on";
    let channel = await api("POST", "/channels", { json: body });
    channel = await withStreamKey(channel);
    const link = await shareLink(channel.id);
    const server = await ingestUrl(channel.id);
    clear(out,
      h("section", { class: "card" }, h("h2", {}, "1. In OBS: Settings → Stream"),
        h("p", {}, "Service: Custom…"),
        server ? copyRow("Server", server, "Server URL") : h("p", { class: "muted" }, "RTMP ingest is turned off on this server."),
        channel.stream_key ? copyRow("Stream key", channel.stream_key, "Stream key") : h("p", { class: "muted" }, "The stream key appears once the server issues push keys."),
        h("p", { class: "muted" }, "Then press “Start Streaming”.")),
      server ? encoderStatus(channel.id) : null,
      h("section", { class: "card" }, h("h2", {}, "2. Share"),
        link ? copyRow("Watch page", link, "Share link") : null,
        link ? h("p", {}, h("a", { href: link, target: "_blank", rel: "noopener" }, "Open the watch page")) : null,
        h("p", { class: "muted" }, channel.public_watch
          ? "Anyone with this link watches in the browser. Apps still use a line (copy its M3U URL or Xtream login from Lines)."
          : "Viewers sign in with a line's username and password; give them a line from Lines (copy its M3U URL or Xtream login for their apps).")),
      h("p", {}, h("a", { href: "#/channels" }, "See all channels")));
  } });
  main.append(h("section", { class: "card" }, form), out);
  return {};
}
