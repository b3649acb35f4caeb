// The forecast chart in plain SVG: the history, the point forecast and one shaded band
// per interval level (wider levels lighter), with date and value ticks.

const NS = "http://www.w3.org/2000/svg";
const W = 720;
const H = 320;
const PAD = { left: 56, right: 16, top: 16, bottom: 36 };

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

function ticks(min, max, count) {
  if (min === max) return [min];
  const step = (max - min) / count;
  return Array.from({ length: count + 1 }, (_, i) => min + i * step);
}

function label(t, byDate) {
  if (!byDate) return String(Math.round(t));
  return new Date(t).toISOString().slice(0, 10);
}

function fmt(v) {
  const a = Math.abs(v);
  return a >= 1e6 ? (v / 1e6).toFixed(1) + "M" : a >= 1e3 ? (v / 1e3).toFixed(1) + "k" : a >= 10 ? v.toFixed(0) : v.toFixed(2);
}

/**
 * history: [{t, y}], forecast: [{t, y, bands: {level: [lower, upper]}}], byDate: whether
 * `t` is a timestamp (else an index).
 */
export function forecastChart({ history, forecast, levels, byDate }, title) {
  const points = [...history, ...forecast];
  const ys = [...history.map((p) => p.y), ...forecast.flatMap((p) => [p.y, ...Object.values(p.bands).flat()])].filter(Number.isFinite);
  const ts = points.map((p) => p.t);
  const [tMin, tMax] = [Math.min(...ts), Math.max(...ts)];
  let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
  if (yMin === yMax) [yMin, yMax] = [yMin - 1, yMax + 1];
  const x = (t) => PAD.left + ((t - tMin) / (tMax - tMin || 1)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v - yMin) / (yMax - yMin)) * (H - PAD.top - PAD.bottom);
  const line = (pts) => pts.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.y).toFixed(1)}`).join("");

  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "chart" }, svg("title", {}, title));
  for (const v of ticks(yMin, yMax, 4)) {
    root.append(
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid" }),
      svg("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, fmt(v)),
    );
  }
  ticks(tMin, tMax, 4).forEach((t, i, all) => {
    const anchor = i === 0 ? "start" : i === all.length - 1 ? "end" : "middle";
    root.append(svg("text", { x: x(t), y: H - PAD.bottom + 18, "text-anchor": anchor, class: "tick" }, label(t, byDate)));
  });
  const sorted = [...levels].sort((a, b) => Number(b) - Number(a));
  sorted.forEach((level, i) => {
    const upper = forecast.map((p) => ({ t: p.t, y: p.bands[level][1] }));
    const lower = forecast.map((p) => ({ t: p.t, y: p.bands[level][0] })).reverse();
    const d = line(upper) + line(lower).replace(/^M/, "L") + "Z";
    root.append(svg("path", { d, class: "band", "fill-opacity": 0.15 + 0.15 * i }, svg("title", {}, `${level} % interval`)));
  });
  if (history.length) root.append(svg("path", { d: line(history), class: "history" }));
  const joined = history.length ? [history[history.length - 1], ...forecast] : forecast;
  root.append(svg("path", { d: line(joined), class: "forecast" }));
  const legend = document.createElement("p");
  legend.className = "legend";
  legend.textContent = `Solid: history · dashed: forecast · shaded: ${sorted.map((l) => l + " %").join(", ")} intervals`;
  const figure = document.createElement("figure");
  figure.append(root, legend);
  return figure;
}
