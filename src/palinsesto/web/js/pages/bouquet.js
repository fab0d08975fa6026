// A bouquet's ordered items: drag and drop (or the Up/Down buttons, for keyboards) to reorder.

import { api, get } from "../api.js";
import { debounce, h, nextId, toast } from "../dom.js";
import { valueLabel } from "../labels.js";
import { has, requestSchema } from "../openapi.js";

const PAGE = 500;

function itemLabel(item) {
  return item.name || item.title || `${item.item_type || "item"} #${item.item_id ?? item.id}`;
}

// Where the order is saved: a dedicated items endpoint if the API has one, else PATCH items.
function saver(bouquetId) {
  for (const method of ["put", "post", "patch"]) {
    if (has("/bouquets/{bouquet_id}/items", method)) {
      return (items) => api(method.toUpperCase(), `/bouquets/${bouquetId}/items`, { json: requestSchema("/bouquets/{bouquet_id}/items", method)?.type === "array" ? items : { items } });
    }
  }
  const patch = requestSchema("/bouquets/{bouquet_id}", "patch");
  if (patch && patch.properties && patch.properties.items) return (items) => api("PATCH", `/bouquets/${bouquetId}`, { json: { items } });
  return null;
}

export async function bouquetItems(bouquet, ctx, { writable }) {
  let items = bouquet.items;
  let total = null;
  if (!items && has("/bouquets/{bouquet_id}/items")) {
    const data = await get(`/bouquets/${bouquet.id}/items`, { per_page: PAGE }).catch(() => null);
    items = data && (data.items || data);
    total = data && data.total;
  }
  if (!Array.isArray(items)) return [];
  // Saving replaces the whole list, so only a bouquet shown in full can be reordered here.
  const partial = typeof total === "number" && total > items.length;
  const save = writable && !partial ? saver(bouquet.id) : null;
  const list = h("ol", { class: "reorder", "aria-label": "Items in order" });
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  if (partial) status.textContent = `The first ${items.length} of ${total} items. Bouquets this large are reordered through the API (PUT /bouquets/${bouquet.id}/items).`;
  let dragged = null;
  const persist = async () => {
    if (!save) return;
    const order = [...list.children].map((li) => li.item);
    try {
      await save(order.map((it) => ({ item_type: it.item_type, item_id: it.item_id })));
      status.textContent = "Order saved.";
    } catch (error) {
      toast(error.message, "error");
      status.textContent = error.message;
    }
  };
  const move = (li, delta) => {
    const sibling = delta < 0 ? li.previousElementSibling : li.nextElementSibling;
    if (!sibling) return;
    if (delta < 0) list.insertBefore(li, sibling);
    else list.insertBefore(sibling, li);
    li.querySelector(delta < 0 ? ".up" : ".down").focus();
    persist();
  };
  const row = (item) => {
    const label = itemLabel(item);
    const li = h("li", { draggable: Boolean(save), class: "reorder-item" },
      h("span", { class: "grip", "aria-hidden": "true" }, "⠿"), h("span", { class: "label" }, label),
      save ? h("span", { class: "updown" },
        h("button", { type: "button", class: "small up", "aria-label": `Move ${label} up`, onclick: () => move(li, -1) }, "↑"),
        h("button", { type: "button", class: "small down", "aria-label": `Move ${label} down`, onclick: () => move(li, 1) }, "↓")) : null);
    li.item = item;
    li.addEventListener("dragstart", (e) => { dragged = li; li.classList.add("dragging"); e.dataTransfer.effectAllowed = "move"; });
    li.addEventListener("dragend", () => { li.classList.remove("dragging"); dragged = null; });
    li.addEventListener("dragover", (e) => {
      if (!dragged || dragged === li) return;
      e.preventDefault();
      const after = e.offsetY > li.offsetHeight / 2;
      list.insertBefore(dragged, after ? li.nextSibling : li);
    });
    li.addEventListener("drop", (e) => { e.preventDefault(); persist(); });
    return li;
  };
  for (const item of items) list.append(row(item));
  const adder = save ? channelAdder(async (channel) => {
    const li = [...list.children].find((x) => x.item.item_type === "channel" && x.item.item_id === channel.id);
    if (li) return;
    items.push({ item_type: "channel", item_id: channel.id, name: channel.name });
    list.append(row({ item_type: "channel", item_id: channel.id, name: channel.name }));
    await persist();
  }) : null;
  const categoryAdder = writable && has("/bouquets/{bouquet_id}/categories", "post") ? await categoryPicker(bouquet.id, async (result) => {
    const data = await get(`/bouquets/${bouquet.id}/items`, { per_page: PAGE });
    list.replaceChildren(...data.items.map(row));
    status.textContent = `${result.added} added; the bouquet holds ${result.total} ${result.total === 1 ? "item" : "items"}.`;
  }) : null;
  return [h("section", { class: "action" }, h("h3", {}, "Items"), list, status, adder, categoryAdder)];
}

// Every channel (or movie, or series) of a category, added at the end in one go.
async function categoryPicker(bouquetId, onAdded) {
  const page = await get("/categories", { per_page: 200 }).catch(() => ({ items: [] }));
  const id = nextId("cat");
  const select = h("select", { id }, h("option", { value: "" }, "Choose a category…"),
    page.items.map((c) => h("option", { value: c.id }, `${c.name} (${valueLabel(c.kind)})`)));
  const add = h("button", { type: "button", class: "secondary", onclick: async () => {
    if (!select.value) { toast("Choose a category first.", "error"); return; }
    try {
      const result = await api("POST", `/bouquets/${bouquetId}/categories`, { json: { category_id: Number(select.value) } });
      toast(`${result.added} added to the bouquet.`);
      await onAdded(result);
    } catch (error) {
      toast(error.message, "error");
    }
  } }, "Add whole category");
  return h("div", { class: "field" }, h("label", { for: id }, "Add a whole category"), h("div", { class: "with-buttons" }, select, add));
}

// Find a channel by name (server-side search) and add it to the end of the bouquet.
function channelAdder(onAdd) {
  const id = nextId("add");
  const input = h("input", { id, type: "search", placeholder: "channel name", autocomplete: "off" });
  const results = h("ul", { class: "plain", "aria-live": "polite" });
  const search = debounce(async () => {
    const q = input.value.trim();
    if (!q) { results.replaceChildren(); return; }
    const page = await get("/channels", { q, per_page: 8 }).catch(() => ({ items: [] }));
    results.replaceChildren(...page.items.map((c) => h("li", {}, c.name, " ", h("button", { type: "button", class: "small", onclick: () => onAdd(c), "aria-label": `Add ${c.name}` }, "Add"))));
  }, 250);
  input.addEventListener("input", search);
  return h("div", { class: "field" }, h("label", { for: id }, "Add a channel"), input, results);
}
