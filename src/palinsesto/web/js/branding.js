// A panel's own look (GET /api/v1/public/branding on its domain, or a watch link's answer):
// its name in the header, its logo, and its colours as the page's accent.

import { h } from "./dom.js";

const HEX = /^#[0-9a-f]{6}$/i;

export function applyBranding(branding, { nameEl, logoSlot } = {}) {
  if (!branding) return;
  const root = document.documentElement;
  if (HEX.test(branding.primary_color || "")) {
    root.style.setProperty("--accent", branding.primary_color);
    root.style.setProperty("--brand-color", branding.primary_color);
    document.body.classList.add("branded");
  }
  if (HEX.test(branding.accent_color || "")) root.style.setProperty("--brand-accent", branding.accent_color);
  if (nameEl && branding.name) nameEl.textContent = branding.name;
  if (logoSlot && branding.logo_url) {
    logoSlot.replaceChildren(h("img", { src: branding.logo_url, alt: `${branding.name} logo`, class: "brand-logo" }));
    logoSlot.hidden = false;
  }
}

export async function hostBranding() {
  try {
    const response = await fetch("/api/v1/public/branding");
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}
