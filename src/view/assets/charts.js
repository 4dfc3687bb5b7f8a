// charts.js: small SVG charts for the side panels, drawn from scratch: a
// line chart (series, dashed reference lines, bands, markers, an optional
// time cursor; linear or log2 x axis) and a stacked bar chart, both with
// ticks, axis labels and a legend. Colours come from CSS classes (s0…s7).

import { fmtNum, setAttrs, svg } from './dom.js';

const W = 380;
/** Height when the chart's box cannot be measured (hidden). */
const DEFAULT_H = 180;
const MIN_H = 110;
const M = { l: 46, r: 10, t: 24, b: 32 };

/** About n round tick values covering [lo, hi]. */
export function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const step = tickStep(lo, hi, n);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function tickStep(lo, hi, n) {
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
}

/** A formatter with as many decimals as the tick step needs (0.2 → 1, 2.5 → 1, 0.25 → 2). */
function stepFormat(lo, hi, n) {
  const step = hi > lo ? tickStep(lo, hi, n) : 1;
  let decimals = 0;
  while (decimals < 6 && Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6) decimals += 1;
  return (v) => v.toFixed(decimals);
}

function log2Ticks(lo, hi) {
  const [a, b] = [Math.floor(Math.log2(lo)), Math.ceil(Math.log2(hi))];
  const step = Math.max(1, Math.ceil((b - a) / 6));
  const out = [];
  for (let e = a; e <= b; e += step) out.push(2 ** e);
  return out;
}

/** The common frame: scales, axes, labels and legend of one chart. */
class Frame {
  constructor(svgEl, opts) {
    this.svg = svgEl;
    this.opts = opts;
    setAttrs(svgEl, { role: 'img', preserveAspectRatio: 'xMidYMid meet' });
    this.fit();
  }

  /** Sizes the viewBox to the box CSS gives the chart: W units wide, as tall as the box's shape. */
  fit() {
    const r = this.svg.getBoundingClientRect();
    this.h = r.width > 0 && r.height > 0 ? Math.max(MIN_H, Math.round((W * r.height) / r.width)) : DEFAULT_H;
    this.svg.setAttribute('viewBox', `0 0 ${W} ${this.h}`);
  }

  reset(xd, yd) {
    this.fit();
    this.svg.replaceChildren();
    this.xd = xd;
    this.yd = yd;
    const { logX } = this.opts;
    const [x0, x1] = logX ? xd.map(Math.log2) : xd;
    this.x = (v) => M.l + (((logX ? Math.log2(v) : v) - x0) / (x1 - x0 || 1)) * (W - M.l - M.r);
    this.y = (v) => this.h - M.b - ((v - yd[0]) / (yd[1] - yd[0] || 1)) * (this.h - M.t - M.b);
    this.plot = svg('g', { class: 'plot' });
  }

  axes(xTicks = null) {
    const g = svg('g', { class: 'axes' }, this.svg);
    const { logX } = this.opts;
    const xFormat = this.opts.xFormat ?? stepFormat(this.xd[0], this.xd[1], 5);
    const yFormat = this.opts.yFormat ?? stepFormat(this.yd[0], this.yd[1], 4);
    for (const v of niceTicks(this.yd[0], this.yd[1], 4)) {
      svg('line', { class: 'grid', x1: M.l, x2: W - M.r, y1: this.y(v), y2: this.y(v) }, g);
      svg('text', { class: 'tick', x: M.l - 4, y: this.y(v) + 3, 'text-anchor': 'end' }, g).textContent = yFormat(v);
    }
    const xs = xTicks ?? (logX ? log2Ticks(...this.xd) : niceTicks(this.xd[0], this.xd[1], 5));
    for (const v of xs) {
      if (typeof v === 'number' && (v < this.xd[0] - 1e-9 || v > this.xd[1] + 1e-9)) continue;
      const [x, label] = typeof v === 'number' ? [this.x(v), xFormat(v)] : [v.x, v.label];
      svg('line', { class: 'tick-mark', x1: x, x2: x, y1: this.h - M.b, y2: this.h - M.b + 3 }, g);
      svg('text', { class: 'tick', x, y: this.h - M.b + 13, 'text-anchor': 'middle' }, g).textContent = label;
    }
    svg('line', { class: 'axis', x1: M.l, x2: W - M.r, y1: this.h - M.b, y2: this.h - M.b }, g);
    svg('line', { class: 'axis', x1: M.l, x2: M.l, y1: M.t, y2: this.h - M.b }, g);
    svg('text', { class: 'axis-label', x: (M.l + W - M.r) / 2, y: this.h - 3, 'text-anchor': 'middle' }, g).textContent = this.opts.xLabel ?? '';
    svg('text', { class: 'axis-label', x: 4, y: M.t - 8 }, g).textContent = this.opts.yLabel ?? '';
    this.svg.appendChild(this.plot);
  }

  legend(items) {
    const g = svg('g', { class: 'legend' }, this.svg);
    let x = W - M.r;
    for (const it of [...items].reverse()) {
      const w = 18 + 5.6 * it.name.length;
      x -= w + 8;
      if (x < 60) break;
      svg('line', { class: `key ${it.cls}${it.dashed ? ' dashed' : ''}`, x1: x, x2: x + 14, y1: 10, y2: 10 }, g);
      svg('text', { class: 'legend-text', x: x + 18, y: 13 }, g).textContent = it.name;
    }
  }

  empty(message) {
    this.fit();
    this.svg.replaceChildren();
    svg('text', { class: 'empty', x: W / 2, y: this.h / 2, 'text-anchor': 'middle' }, this.svg).textContent = message;
  }
}

/** A line chart; draw() replaces everything, setCursor() only moves the cursor. */
export class LineChart extends Frame {
  draw({ x, y, series = [], hlines = [], bands = [], markers = [], empty = 'No data yet' }) {
    if (!series.some((s) => s.points.length) && !hlines.length) return this.empty(empty);
    this.reset(x, y);
    this.axes();
    for (const b of bands) {
      const [top, bottom] = [this.y(b.y1), this.y(b.y0)];
      svg('rect', { class: `band ${b.cls}`, x: M.l, width: W - M.l - M.r, y: top, height: Math.max(0.5, bottom - top) }, this.plot);
    }
    for (const h of hlines) {
      svg('line', { class: `series ${h.cls} dashed`, x1: M.l, x2: W - M.r, y1: this.y(h.y), y2: this.y(h.y) }, this.plot);
    }
    for (const s of series) this.drawSeries(s);
    for (const m of markers) this.drawMarkers(m);
    this.cursorEl = svg('line', { class: 'cursor', y1: M.t, y2: this.h - M.b, x1: -10, x2: -10 }, this.plot);
    this.legend([...series, ...hlines, ...markers].filter((s) => s.name));
    if (this.cursorAt !== undefined) this.setCursor(this.cursorAt);
  }

  drawSeries(s) {
    if (!s.points.length) return;
    const d = s.points.map(([px, py], i) => `${i ? 'L' : 'M'}${this.x(px).toFixed(1)} ${this.y(py).toFixed(1)}`).join('');
    svg('path', { class: `series ${s.cls}${s.dashed ? ' dashed' : ''}`, d }, this.plot);
    if (s.dots && s.points.length <= 80) {
      for (const [px, py] of s.points) svg('circle', { class: `dot ${s.cls}`, cx: this.x(px), cy: this.y(py), r: 1.8 }, this.plot);
    }
  }

  drawMarkers(m) {
    for (const px of m.xs) {
      const [cx, cy] = [this.x(px), M.t + 4];
      svg('path', { class: `marker ${m.cls}`, d: `M${cx - 3} ${cy - 3}L${cx + 3} ${cy + 3}M${cx + 3} ${cy - 3}L${cx - 3} ${cy + 3}` }, this.plot);
    }
  }

  /** Moves the vertical time cursor to x (hidden outside the x domain). */
  setCursor(xv) {
    this.cursorAt = xv;
    if (!this.cursorEl || !this.xd) return;
    const inside = xv >= this.xd[0] && xv <= this.xd[1];
    const px = inside ? this.x(xv) : -10;
    setAttrs(this.cursorEl, { x1: px, x2: px });
  }
}

/** A stacked bar chart: groups of parts ({name, cls, value}) side by side. */
export class BarChart extends Frame {
  draw({ groups, empty = 'No data yet' }) {
    if (!groups.length) return this.empty(empty);
    const top = Math.max(...groups.map((g) => g.parts.reduce((s, p) => s + Math.max(0, p.value), 0)));
    this.reset([0, groups.length], [0, niceTicks(0, top * 1.05 || 1, 4).at(-1)]);
    const slot = (W - M.l - M.r) / groups.length;
    const every = Math.ceil(groups.length / 8);
    this.axes(groups.map((g, i) => (i % every ? null : { x: M.l + slot * (i + 0.5), label: g.label })).filter(Boolean));
    groups.forEach((g, i) => this.drawGroup(g, M.l + slot * i + slot * 0.15, slot * 0.7));
    const names = new Map();
    for (const g of groups) for (const p of g.parts) names.set(p.name, p.cls);
    this.legend([...names].map(([name, cls]) => ({ name, cls: `${cls} thick` })));
  }

  drawGroup(g, x, width) {
    let base = 0;
    for (const p of g.parts) {
      const v = Math.max(0, p.value);
      const [y0, y1] = [this.y(base), this.y(base + v)];
      const r = svg('rect', { class: `bar ${p.cls}`, x, width, y: y1, height: Math.max(0, y0 - y1) }, this.plot);
      svg('title', {}, r).textContent = `${g.label}: ${p.name} ${fmtNum(v)}${this.opts.unit ?? ''}`;
      base += v;
    }
  }
}
