// panels.js: the side panels' contents, computed from the store: ping RTT
// against the geometric RTT over time, goodput per bulk transfer over time,
// collective bus bandwidth by message size, and the training step
// breakdown. A panel whose workload kind the scenario lacks stays hidden.

import { BarChart, LineChart } from './charts.js';
import { fmtBytes } from './dom.js';

const MAX_SERIES = 8;

export class Panels {
  /** root: the element holding the <section data-kind=...> panels. */
  constructor(root, store) {
    this.store = store;
    const kinds = new Set(store.workloads.map((w) => w.kind));
    const chart = (kind, Kind, opts) => {
      const section = root.querySelector(`section[data-kind="${kind}"]`);
      section.hidden = !kinds.has(kind);
      return new Kind(section.querySelector('svg'), opts);
    };
    this.ping = chart('ping', LineChart, { xLabel: 'virtual time (s)', yLabel: 'RTT (ms)' });
    this.bulk = chart('bulk', LineChart, { xLabel: 'virtual time (s)', yLabel: 'goodput (Gb/s)' });
    this.coll = chart('collective', LineChart, { xLabel: 'message size', yLabel: 'bus bandwidth (Gb/s)', logX: true, xFormat: fmtBytes });
    this.train = chart('train', BarChart, { xLabel: 'step', yLabel: 'time (s)', unit: ' s' });
    this.drawn = -1;
    const resized = new ResizeObserver(() => { this.drawn = -1; });
    for (const c of [this.ping, this.bulk, this.coll, this.train]) resized.observe(c.svg);
  }

  /** Redraws the charts if the store changed, or a chart's box was resized, since the last time. */
  refresh() {
    if (this.drawn === this.store.version) return;
    this.drawn = this.store.version;
    const dur = this.store.scenario.duration_s || 1;
    this.ping.draw(pingData(this.store, dur));
    this.bulk.draw(bulkData(this.store, dur));
    this.coll.draw(collectiveData(this.store));
    this.train.draw(trainData(this.store));
    this.label();
  }

  setCursor(t) {
    this.ping.setCursor(t);
    this.bulk.setCursor(t);
  }

  label() {
    const e = this.store.echoes;
    const got = e.filter((x) => Number.isFinite(x.rtt_ms));
    this.ping.svg.setAttribute('aria-label', `Ping round-trip time over virtual time: ${got.length} replies of ${e.length} echoes`);
    this.bulk.svg.setAttribute('aria-label', `Goodput of ${this.store.progress.size} bulk transfers over virtual time`);
    this.coll.svg.setAttribute('aria-label', 'Collective bus bandwidth by message size, measured and modelled');
    this.train.svg.setAttribute('aria-label', 'Training step time: compute and exposed communication');
  }
}

const pairKey = (e) => `${e.from}→${e.to}`;
const pad = ([lo, hi], k = 0.08) => (hi > lo ? [lo - (hi - lo) * k, hi + (hi - lo) * k] : [lo - 1, hi + 1]);

/** Measured RTT per ping pair, geometric RTT from the events or else the summary's spread. */
export function pingData(store, dur) {
  const pairs = new Map();
  for (const e of store.echoes) {
    if (!pairs.has(pairKey(e))) pairs.set(pairKey(e), []);
    pairs.get(pairKey(e)).push(e);
  }
  const series = [];
  const hlines = [];
  const bands = [];
  const markers = [];
  const ys = [];
  [...pairs].slice(0, MAX_SERIES).forEach(([key, echoes], i) => {
    echoes.sort((a, b) => a.sent_s - b.sent_s);
    const cls = `s${i}`;
    const rtt = echoes.filter((e) => Number.isFinite(e.rtt_ms)).map((e) => [e.sent_s, e.rtt_ms]);
    const geo = echoes.filter((e) => Number.isFinite(e.geometric_rtt_ms)).map((e) => [e.sent_s, e.geometric_rtt_ms]);
    series.push({ name: pairs.size > 1 ? key : 'measured', cls, points: rtt, dots: true });
    ys.push(...rtt.map((p) => p[1]), ...geo.map((p) => p[1]));
    if (geo.length) series.push({ name: 'geometric', cls, points: geo, dashed: true });
    else summaryGeometric(store, echoes[0], cls, hlines, bands, ys);
    const lost = echoes.filter((e) => !Number.isFinite(e.rtt_ms)).map((e) => e.sent_s);
    if (lost.length) markers.push({ name: 'lost', cls: 'lost', xs: lost });
  });
  if (!ys.length) return { x: [0, dur], y: [0, 1], series: [], empty: 'No echo yet' };
  return { x: [0, dur], y: pad([Math.min(...ys), Math.max(...ys)]), series, hlines, bands, markers };
}

function summaryGeometric(store, e, cls, hlines, bands, ys) {
  const p = store.summary?.ping?.find((s) => s.from === e.from && s.to === e.to);
  const g = p?.geometric_rtt_ms;
  if (!g || !Number.isFinite(g.p50)) return;
  bands.push({ y0: g.min, y1: g.max, cls });
  hlines.push({ y: g.p50, cls, name: 'geometric p50' });
  ys.push(g.min, g.max);
}

/** Goodput (Gb/s) between successive bulk-progress samples of each transfer. */
export function bulkData(store, dur) {
  const series = [];
  const hlines = [];
  let top = 0;
  [...store.progress].slice(0, MAX_SERIES).forEach(([w, samples], i) => {
    const pts = goodput(samples, store.transfers.get(w)?.start_s);
    const wl = store.workload(w);
    series.push({ name: wl ? `${wl.from}→${wl.to}` : `workload ${w}`, cls: `s${i}`, points: pts });
    top = Math.max(top, ...pts.map((p) => p[1]));
    const cap = wl && store.summary?.transfers?.find((t) => t.from === wl.from && t.to === wl.to)?.path_capacity_gbps;
    if (Number.isFinite(cap)) {
      hlines.push({ y: cap, cls: `s${i}`, name: 'path capacity' });
      top = Math.max(top, cap);
    }
  });
  return { x: [0, dur], y: [0, top * 1.1 || 1], series, hlines, empty: 'No bulk progress yet' };
}

function goodput(samples, start) {
  const s = [...samples].sort((a, b) => a[0] - b[0]);
  const pts = [];
  let prev = Number.isFinite(start) ? [start, 0] : s.shift();
  for (const [t, bytes] of s) {
    if (!prev || t <= prev[0]) continue;
    const gbps = (Math.max(0, bytes - prev[1]) * 8) / (t - prev[0]) / 1e9;
    pts.push([prev[0], gbps], [t, gbps]);
    prev = [t, bytes];
  }
  return pts;
}

/** Bus bandwidth by size from the summary (measured, and the α–β model's), else algbw from events. */
export function collectiveData(store) {
  const rows = store.summary?.collectives ?? [];
  const series = [];
  const groups = new Map();
  for (const r of rows.filter((r) => Number.isFinite(r.busbw_gbps) && r.bytes > 0)) {
    const key = `${r.workload} ${r.op ?? ''}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  [...groups].slice(0, MAX_SERIES / 2).forEach(([key, rs], i) => {
    rs.sort((a, b) => a.bytes - b.bytes);
    const op = rs[0].op ?? 'collective';
    series.push({ name: groups.size > 1 ? key : op, cls: `s${i}`, points: rs.map((r) => [r.bytes, r.busbw_gbps]), dots: true });
    const model = rs.filter((r) => r.model_time_s > 0 && r.time_s > 0).map((r) => [r.bytes, (r.busbw_gbps * r.time_s) / r.model_time_s]);
    if (model.length) series.push({ name: 'model', cls: `s${i}`, points: model, dashed: true });
  });
  if (!series.length) return collectiveFromEvents(store);
  return scaleLog(series, 'No collective results yet');
}

function collectiveFromEvents(store) {
  const slowest = new Map();
  for (const e of store.collectives) {
    if (!(e.bytes > 0) || !(e.time_s > 0)) continue;
    const key = `${e.workload}/${e.bytes}`;
    slowest.set(key, Math.max(slowest.get(key) ?? 0, e.time_s));
  }
  const pts = [...slowest].map(([k, t]) => {
    const bytes = Number(k.split('/')[1]);
    return [bytes, (bytes * 8) / t / 1e9];
  });
  pts.sort((a, b) => a[0] - b[0]);
  const series = pts.length ? [{ name: 'algbw (summary pending)', cls: 's0', points: pts, dots: true }] : [];
  return scaleLog(series, 'No collective results yet');
}

function scaleLog(series, empty) {
  const all = series.flatMap((s) => s.points);
  if (!all.length) return { x: [1, 2], y: [0, 1], series: [], empty };
  const xs = all.map((p) => p[0]);
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  return { x: [lo / 1.5, hi * 1.5], y: [0, Math.max(...all.map((p) => p[1])) * 1.1 || 1], series, empty };
}

/** Compute and exposed communication per step: the summary's, else the slowest rank's from events. */
export function trainData(store) {
  const groups = [];
  const multi = (store.summary?.train?.length ?? 0) > 1;
  for (const t of store.summary?.train ?? []) {
    const steps = Array.isArray(t.steps) && t.steps.length ? t.steps : null;
    if (steps) {
      for (const s of steps) groups.push(bar(multi ? `${t.workload}:${s.step}` : String(s.step), s.compute_s, s.exposed_comm_s));
    } else if (Number.isFinite(t.step_time_s)) {
      groups.push(bar(`w${t.workload} mean`, t.compute_time_s, t.exposed_comm_s));
    }
  }
  if (!groups.length) groups.push(...trainFromEvents(store));
  return { groups: groups.slice(-40), empty: 'No training step yet' };
}

function bar(label, compute, exposed) {
  return {
    label,
    parts: [
      { name: 'compute', cls: 'compute', value: Number(compute) || 0 },
      { name: 'exposed comm', cls: 'exposed', value: Number(exposed) || 0 },
    ],
  };
}

function trainFromEvents(store) {
  const slowest = new Map();
  for (const e of store.trainSteps) {
    if (!Number.isFinite(e.step_s) || e.step === undefined || e.step === null) continue;
    const key = `${e.workload}:${e.step}`;
    if (!slowest.has(key) || slowest.get(key).step_s < e.step_s) slowest.set(key, e);
  }
  return [...slowest.values()]
    .sort((a, b) => a.workload - b.workload || a.step - b.step)
    .map((e) => bar(String(e.step), e.compute_s, Math.max(0, e.step_s - (e.compute_s ?? 0))));
}

