// A small SVG line chart (no library): points are [time ms, value].

const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function lineChart(points, { width = 600, height = 180, label = "Chart", spanMs = 24 * 3600 * 1000 } = {}) {
  const pad = { l: 36, r: 8, t: 8, b: 22 };
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart", preserveAspectRatio: "none" });
  const now = Date.now();
  const t0 = now - spanMs;
  const max = Math.max(1, ...points.map((p) => p[1]));
  const x = (t) => pad.l + ((t - t0) / spanMs) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - (v / max) * (height - pad.t - pad.b);
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(max * frac);
    svg.append(el("line", { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(el("text", { x: pad.l - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" }, String(v)));
  }
  for (let h = 0; h <= 24; h += 6) {
    const t = t0 + (h / 24) * spanMs;
    const text = h === 24 ? "now" : `-${24 - h} h`;
    svg.append(el("text", { x: x(t), y: height - 6, "text-anchor": h === 0 ? "start" : h === 24 ? "end" : "middle", class: "axis" }, text));
  }
  const shown = points.filter((p) => p[0] >= t0).sort((a, b) => a[0] - b[0]);
  if (shown.length) {
    const d = shown.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    svg.append(el("path", { d: `${d} L${x(shown.at(-1)[0]).toFixed(1)},${y(0)} L${x(shown[0][0]).toFixed(1)},${y(0)} Z`, class: "area" }));
    svg.append(el("path", { d, class: "line" }));
  }
  svg.append(el("title", {}, label));
  return svg;
}
