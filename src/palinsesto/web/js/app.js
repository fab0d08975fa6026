// The panel's entry point: sign-in, navigation by role, and a hash router (#/page?query).

import { api, get, session } from "./api.js";
import { applyBranding, hostBranding } from "./branding.js";
import { clear, h, toast } from "./dom.js";
import { has, loadSpec } from "./openapi.js";
import { creatorsPage } from "./pages/creators.js";
import { dashboardPage } from "./pages/dashboard.js";
import { domainsPage } from "./pages/domains.js";
import { audiencePage, myChannelsPage } from "./pages/mychannels.js";
import { quickStartPage } from "./pages/quickstart.js";
import { resellerHomePage } from "./pages/reseller.js";
import { directoryPage, offersPage } from "./pages/syndication.js";
import { RESOURCES } from "./resources.js";
import { MANAGERS, READERS } from "./roles.js";
import { tablePage } from "./table.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const signOutButton = document.getElementById("sign-out");
const menuToggle = document.getElementById("menu-toggle");

const ROLE_NAMES = { platform_admin: "platform admin", owner: "owner", admin: "admin", reseller: "reseller", support: "support (read-only)", creator: "creator" };
const balance = document.getElementById("balance");

// A reseller's credit balance, in the header; refreshed after every change it makes.
async function refreshBalance() {
  if (!ctx.me || ctx.me.role !== "reseller") {
    balance.hidden = true;
    return;
  }
  try {
    const me = await get(`/users/${ctx.me.id}`);
    balance.textContent = `${me.credits} ${me.credits === 1 ? "credit" : "credits"}`;
    balance.hidden = false;
  } catch {
    balance.hidden = true;
  }
}

const ctx = { me: null, current: null, navigate };

function pages(me) {
  const list = [];
  if (READERS.includes(me.role)) list.push({ key: "dashboard", title: "Dashboard", group: "", render: dashboardPage });
  if (me.role === "reseller") list.push({ key: "home", title: "My business", group: "", render: resellerHomePage });
  if (MANAGERS.includes(me.role) && has("/channels", "post")) list.push({ key: "go-live", title: "Go live", group: "", render: quickStartPage });
  if (me.role === "creator") {
    list.push({ key: "my-channels", title: "My channels", group: "", render: myChannelsPage });
    list.push({ key: "audience", title: "Audience", group: "", render: audiencePage });
  }
  if (MANAGERS.includes(me.role) && me.tenant_id && has("/creators")) list.push({ key: "creators", title: "Creators", group: "People", render: creatorsPage });
  if (MANAGERS.includes(me.role) && me.tenant_id && has("/syndication/offers")) {
    list.push({ key: "offers", title: "Offers", group: "Syndication", render: offersPage });
    list.push({ key: "directory", title: "Directory", group: "Syndication", render: directoryPage });
  }
  if (MANAGERS.includes(me.role) && me.tenant_id && has("/domains")) list.push({ key: "domains", title: "Domains & branding", group: "Settings", render: domainsPage });
  for (const res of RESOURCES) {
    res.path = res.paths.find((p) => has(p));
    if (res.path && res.canRead(me)) list.push({ key: res.key, title: res.title, group: res.group, resource: res });
  }
  return list;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [key, search = ""] = raw.split("?");
  return { key, params: Object.fromEntries(new URLSearchParams(search)) };
}

function navigate(key, params = {}, { replace = false } = {}) {
  const search = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== undefined && v !== null)).toString();
  const hash = `#/${key}${search ? `?${search}` : ""}`;
  if (replace) history.replaceState(null, "", hash);
  else history.pushState(null, "", hash);
  route();
}

function renderNav(list) {
  const groups = new Map();
  for (const page of list) {
    if (!groups.has(page.group)) groups.set(page.group, []);
    groups.get(page.group).push(page);
  }
  clear(nav, [...groups].map(([group, items]) => h("div", { class: "nav-group" },
    group ? h("h2", {}, group) : null,
    h("ul", {}, items.map((p) => h("li", {}, h("a", { href: `#/${p.key}`, dataset: { key: p.key } }, p.title)))))));
  nav.hidden = false;
  menuToggle.hidden = false;
}

// The location being rendered: a click on a nav link fires popstate and then hashchange,
// and a second render of the same page would replace a form the user already started.
let routing = null;

async function route() {
  if (!ctx.me) return;
  if (routing === location.href) return;
  const href = location.href;
  routing = href;
  try {
    await render();
  } finally {
    if (routing === href) routing = null;
  }
}

async function render() {
  const { key, params } = parseHash();
  const list = ctx.pages;
  const page = list.find((p) => p.key === key) || list[0];
  if (!page) {
    clear(main, h("h1", {}, "Nothing to show"), h("p", {}, "This account has no pages."));
    return;
  }
  if (ctx.current && ctx.current.leave) ctx.current.leave();
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.key === page.key) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${page.title} — Palinsesto`;
  document.body.classList.remove("nav-open");
  menuToggle.setAttribute("aria-expanded", "false");
  ctx.resource = page.resource;
  const custom = page.resource && page.resource.page;
  ctx.current = page.resource && !custom ? await tablePage(main, page.resource, ctx, { params }) : await (custom || page.render)(main, ctx, { params });
}

function signInPage(message = "") {
  nav.hidden = true;
  menuToggle.hidden = true;
  signOutButton.hidden = true;
  who.textContent = "";
  const error = h("p", { class: "form-error", role: "alert" }, message);
  const form = h("form", { class: "card sign-in", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("div", { class: "field" }, h("label", { for: "username" }, "Username"), h("input", { id: "username", name: "username", autocomplete: "username", required: true })),
    h("div", { class: "field" }, h("label", { for: "password" }, "Password"), h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true })),
    error, h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const data = await api("POST", "/auth/token", { form: { username: form.elements.username.value, password: form.elements.password.value } });
      session.token = data.access_token;
      await start();
    } catch (err) {
      error.textContent = err.message;
      form.elements.password.select();
    }
  });
  clear(main, form);
  form.elements.username.focus();
  // On a panel's own domain: its name, logo and colours (nothing on the platform's host).
  hostBranding().then((branding) => {
    if (!branding) return;
    applyBranding(branding, { nameEl: document.getElementById("brand-name"), logoSlot: document.getElementById("brand-logo") });
    document.getElementById("signin-title").textContent = `Sign in to ${branding.name}`;
  });
}

async function start() {
  try {
    ctx.me = await get("/auth/me");
  } catch {
    session.token = null;
    signInPage();
    return;
  }
  ctx.pages = pages(ctx.me);
  who.textContent = `${ctx.me.username} · ${ROLE_NAMES[ctx.me.role] || ctx.me.role}`;
  signOutButton.hidden = false;
  refreshBalance();
  renderNav(ctx.pages);
  await route();
}

function signOut(message) {
  session.token = null;
  ctx.me = null;
  balance.hidden = true;
  if (ctx.current && ctx.current.leave) ctx.current.leave();
  history.replaceState(null, "", "#/");
  signInPage(message);
}

session.onUnauthorized = (error) => signOut(error.message);
signOutButton.addEventListener("click", () => signOut(""));
menuToggle.addEventListener("click", () => {
  const open = document.body.classList.toggle("nav-open");
  menuToggle.setAttribute("aria-expanded", String(open));
});
window.addEventListener("palinsesto:changed", refreshBalance);
window.addEventListener("popstate", route);
window.addEventListener("hashchange", route);

loadSpec()
  .then(() => (session.token ? start() : signInPage()))
  .catch((error) => {
    clear(main, h("p", { class: "form-error" }, `Cannot reach the API: ${error.message}`));
    toast(error.message, "error");
  });
