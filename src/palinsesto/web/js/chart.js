// A small SVG line chart (no library): points are [time ms, value].

const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const HOUR_MS = 3600 * 1000;

// Five ticks across the range, named as a person reads them: "-45 min", "-18 h", "-5 d".
function tickText(msBeforeNow) {
  if (msBeforeNow <= 0) return "now";
  if (msBeforeNow < 2 * HOUR_MS) return `-${Math.round(msBeforeNow / 60000)} min`;
  if (msBeforeNow < 48 * HOUR_MS) return `-${Math.round(msBeforeNow / HOUR_MS)} h`;
  return `-${Math.round(msBeforeNow / (24 * HOUR_MS) * 10) / 10} d`;
}

/** Points span the whole range (spanMs, ending now); before startedMs (when the server
 * began keeping them) the chart is shaded: unknown, not zero. */
export function lineChart(points, { width = 600, height = 180, label = "Chart", spanMs = 24 * HOUR_MS, startedMs = null } = {}) {
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
  if (startedMs && startedMs > t0) {
    const w = Math.min(x(startedMs), width - pad.r) - pad.l;
    svg.append(el("rect", { x: pad.l, y: pad.t, width: Math.max(0, w), height: height - pad.t - pad.b, class: "unknown" }));
  }
  for (let i = 0; i <= 4; i += 1) {
    const t = t0 + (i / 4) * spanMs;
    svg.append(el("text", { x: x(t), y: height - 6, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle", class: "axis" }, tickText(now - t)));
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
