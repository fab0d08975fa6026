// Uploads: a movie file goes up in chunks (PUT /uploads/{id} with Content-Range), with a
// progress bar. The server's byte count is the resume point, so after a dropped connection
// or a page reload, choosing the same file again continues where the server stands.

import { api, get } from "../api.js";
import { clear, h, nextId } from "../dom.js";

// Small enough for a smooth progress bar, large enough that a chunk's round trip is cheap.
const CHUNK_BYTES = 8 * 1024 * 1024;
const RETRIES = 5;

const sizeText = (n) => {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit ? `${value.toFixed(1)} ${units[unit]}` : `${n} bytes`;
};

const percentOf = (done, total) => (total ? Math.floor((1000 * done) / total) / 10 : 100);

export async function uploadsPage(main, ctx) {
  const tenantPick = ctx.me.role === "platform_admin" ? h("select", { id: nextId("upload"), required: true }) : null;
  const fileInput = h("input", { type: "file", id: nextId("upload"), accept: "video/*,.mkv,.ts,.avi", required: true });
  const progress = h("progress", { max: 100, value: 0, "aria-label": "Upload progress", "data-testid": "upload-progress" });
  const status = h("p", { role: "status", "data-testid": "upload-status" }, "");
  const button = h("button", { type: "submit" }, "Upload");
  const pendingBox = h("section", { class: "card", "aria-labelledby": "uploads-pending-title" });
  const form = h("form", { class: "card", "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, "Upload a movie file"),
    tenantPick ? h("div", { class: "field" }, h("label", { for: tenantPick.id }, "Tenant"), tenantPick) : null,
    h("div", { class: "field" }, h("label", { for: fileInput.id }, "Video file"), fileInput,
      h("p", { class: "help" }, "MP4 or MKV with H.264/AAC plays everywhere. The file is probed and becomes a movie when it has arrived; an interrupted upload resumes when you choose the same file again.")),
    button, h("div", { class: "field" }, progress), status);
  clear(main, h("h1", {}, "Uploads"), form, pendingBox);

  if (tenantPick) {
    const tenants = await get("/tenants", { per_page: 200 }).catch(() => ({ items: [] }));
    clear(tenantPick, tenants.items.map((t) => h("option", { value: t.id }, t.name)));
  }

  async function loadPending() {
    let data;
    try {
      data = await get("/uploads");
    } catch (error) {
      clear(pendingBox, h("h2", { id: "uploads-pending-title" }, "Unfinished uploads"), h("p", { class: "form-error" }, error.message));
      return [];
    }
    const rows = data.items.map((u) => h("tr", {},
      h("td", { "data-label": "File" }, u.name),
      h("td", { "data-label": "Received" }, `${sizeText(u.received_bytes)} of ${sizeText(u.total_bytes)} (${percentOf(u.received_bytes, u.total_bytes)}%)`),
      h("td", {}, h("button", { type: "button", class: "secondary", onclick: async () => {
        await api("DELETE", `/uploads/${u.id}`);
        loadPending();
      } }, `Delete ${u.name}`))));
    clear(pendingBox, h("h2", { id: "uploads-pending-title" }, "Unfinished uploads"),
      rows.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["File", "Received"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))), h("tbody", {}, rows))
        : h("p", { class: "help" }, "None. Uploads left unfinished are deleted after a while."));
    return data.items;
  }

  function show(done, total, text) {
    const percent = percentOf(done, total);
    progress.value = percent;
    status.textContent = text || `${percent}% · ${sizeText(done)} of ${sizeText(total)}`;
  }

  // Where this file stands on the server: an unfinished upload of the same name and size, or a new one.
  async function begin(file) {
    const pending = await loadPending();
    const same = pending.find((u) => u.name === file.name && u.total_bytes === file.size);
    if (same) return same;
    const body = { name: file.name, total_bytes: file.size };
    if (tenantPick) body.tenant_id = Number(tenantPick.value);
    return api("POST", "/uploads", { json: body });
  }

  async function send(upload, file) {
    let position = upload.received_bytes;
    let failures = 0;
    show(position, file.size, position ? `Resuming at ${percentOf(position, file.size)}%…` : "");
    for (;;) {
      const end = Math.min(position + CHUNK_BYTES, file.size);
      try {
        const reply = await api("PUT", `/uploads/${upload.id}`, {
          raw: file.slice(position, end),
          headers: { "Content-Range": `bytes ${position}-${end - 1}/${file.size}` },
        });
        position = reply.received_bytes;
        failures = 0;
        show(position, file.size);
        if (reply.complete) return reply.movie;
      } catch (error) {
        // A dropped connection or a refused chunk: ask the server where it stands and go on.
        failures += 1;
        if (failures > RETRIES || (error.status && error.status < 500 && error.status !== 409)) throw error;
        position = (await get(`/uploads/${upload.id}`)).received_bytes;
      }
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) return;
    button.disabled = true;
    status.classList.remove("form-error");
    try {
      const upload = await begin(file);
      const movie = await send(upload, file);
      show(file.size, file.size, "");
      clear(status, "100% · uploaded. Movie created: ", h("a", { href: "#/movies", "data-testid": "uploaded-movie" }, movie.name), movie.probe_error ? ` (ffmpeg: ${movie.probe_error})` : "");
      fileInput.value = "";
    } catch (error) {
      status.classList.add("form-error");
      status.textContent = `Upload stopped: ${error.message}`;
    } finally {
      button.disabled = false;
      loadPending();
    }
  });

  await loadPending();
}
