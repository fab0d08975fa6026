// TV guide: channels × one day of programmes (GET /epg/grid), in the tenant's time zone,
// with a line at "now" that moves while the page is shown. Platform admins choose a tenant.

import { get } from "../api.js";
import { clear, h } from "../dom.js";

const HOUR_PX = 240; // width of an hour on the grid
const NOW_TICK_MS = 30000;
const PER_PAGE = 30;

// Positions go through the CSSOM: the panel's CSP refuses style="" attributes.
function styled(el, props) {
  Object.assign(el.style, props);
  return el;
}

function clock(unix, timeZone) {
  return new Date(unix * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone });
}

function dayText(day, timeZone) {
  // Noon of that day, so the date shown is the day whatever the browser's own zone.
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d, 12)).toLocaleDateString([], { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }) + ` (${timeZone})`;
}

function shiftDay(day, by) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + by)).toISOString().slice(0, 10);
}

export async function guidePage(main, ctx) {
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" }, "Loading…");
  const controls = h("div", { class: "guide-controls" });
  const grid = h("div", { class: "guide-scroll", role: "region", tabindex: "0", "aria-label": "Guide, scroll sideways for the hours" });
  const pager = h("div", { class: "pager" });
  clear(main, h("h1", {}, ctx.resource.title), controls, status, grid, pager);
  let day = null; // the server's "today" until the user moves
  let page = 1;
  let tenantId = null;
  let nowTimer = null;
  let stopped = false;

  if (ctx.me.role === "platform_admin") {
    const tenants = (await get("/tenants", { per_page: 500 }).catch(() => ({ items: [] }))).items;
    tenantId = tenants.length ? tenants[0].id : null;
    const select = h("select", { id: "guide-tenant", onchange: () => { tenantId = Number(select.value); page = 1; load(); } },
      tenants.map((t) => h("option", { value: t.id }, t.name)));
    controls.append(h("div", { class: "field" }, h("label", { for: "guide-tenant" }, "Tenant"), select));
    if (tenantId === null) {
      status.textContent = "There is no tenant yet: a guide belongs to a tenant's channels.";
      return { leave: () => {} };
    }
  }
  const dayLabel = h("strong", { class: "guide-day" });
  controls.append(h("div", { class: "guide-days", role: "group", "aria-label": "Day" },
    h("button", { type: "button", class: "secondary", onclick: () => { day = shiftDay(day, -1); load(); } }, "Previous day"),
    h("button", { type: "button", class: "secondary", onclick: () => { day = null; load(); } }, "Today"),
    h("button", { type: "button", class: "secondary", onclick: () => { day = shiftDay(day, 1); load(); } }, "Next day"),
    dayLabel));

  function render(data) {
    const span = data.stop - data.start;
    const width = (span / 3600) * HOUR_PX;
    const x = (t) => ((Math.min(Math.max(t, data.start), data.stop) - data.start) / 3600) * HOUR_PX;
    const ruler = styled(h("div", { class: "guide-ruler", "aria-hidden": "true" }), { width: `${width}px` });
    for (let t = data.start; t < data.stop; t += 3600) ruler.append(styled(h("span", {}, clock(t, data.timezone)), { left: `${x(t)}px` }));
    const rows = data.items.map((ch) => {
      const label = `${ch.number !== null ? `${ch.number} ` : ""}${ch.name}`;
      const track = styled(h("ul", { class: "guide-track", "aria-label": `Programmes of ${ch.name}` },
        ch.programmes.length ? ch.programmes.map((p) => {
          const times = `${clock(p.start, data.timezone)}–${clock(p.stop, data.timezone)}`;
          const onNow = p.start <= data.now && data.now < p.stop;
          return styled(h("li", { class: `guide-prog${onNow ? " on-now" : ""}`, title: `${times} ${p.title}${p.description ? `\n${p.description}` : ""}` },
            h("span", { class: "guide-time" }, times), " ", h("span", { class: "guide-title" }, p.title)),
          { left: `${x(p.start)}px`, width: `${Math.max(2, x(p.stop) - x(p.start))}px` });
        }) : [h("li", { class: "guide-empty" }, ch.epg_channel_id ? "No programmes this day." : "No guide: this channel has no EPG id.")]), { width: `${width}px` });
      return h("div", { class: "guide-row" }, h("div", { class: "guide-channel" }, label), track);
    });
    const nowLine = h("div", { class: "guide-now", "aria-hidden": "true" });
    const body = styled(h("div", { class: "guide-body" }, h("div", { class: "guide-row guide-head" }, h("div", { class: "guide-channel" }, "Channel"), ruler), ...rows, nowLine), { width: `${width + 180}px` });
    const placeNow = () => {
      const now = Date.now() / 1000;
      const inDay = now >= data.start && now < data.stop;
      nowLine.hidden = !inDay;
      nowLine.style.left = `${180 + x(now)}px`;
      return inDay ? x(now) : null;
    };
    clear(grid, body);
    const at = placeNow();
    // Scroll to an hour before now (today) or to the morning (another day).
    grid.scrollLeft = Math.max(0, (at ?? 7 * HOUR_PX) - HOUR_PX);
    clearInterval(nowTimer);
    nowTimer = setInterval(placeNow, NOW_TICK_MS);
    dayLabel.textContent = dayText(data.day, data.timezone);
    const pages = Math.max(1, Math.ceil(data.total / data.per_page));
    status.textContent = data.total ? `${data.total} ${data.total === 1 ? "channel" : "channels"}` : "No channels yet: the guide shows your channels and their programmes.";
    clear(pager,
      h("button", { type: "button", disabled: data.page <= 1, onclick: () => { page -= 1; load(); } }, "Previous"),
      h("span", {}, `Page ${data.page} of ${pages}`),
      h("button", { type: "button", disabled: data.page >= pages, onclick: () => { page += 1; load(); } }, "Next"));
  }

  async function load() {
    const params = { page, per_page: PER_PAGE };
    if (day) params.day = day;
    if (tenantId !== null) params.tenant_id = tenantId;
    try {
      const data = await get("/epg/grid", params);
      if (stopped) return;
      day = data.day;
      render(data);
    } catch (error) {
      status.textContent = error.message;
    }
  }

  await load();
  return { leave: () => { stopped = true; clearInterval(nowTimer); } };
}
