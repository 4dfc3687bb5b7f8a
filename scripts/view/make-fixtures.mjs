// make-fixtures.mjs: writes the web view's test fixtures into
// src/view/fixtures/: an 8-satellite ring (1000 km, 53°, one plane) and one
// ground station over 600 s, in the shapes of the view's API:
//   scenario.json  (GET /api/scenario)
//   state-<t>.json (GET /api/state?t=..., one every 30 s: 0, 30, ..., 600)
//   events.json    (GET /api/events?since=0)
//   summary.json   (GET /api/summary)
// Deterministic (no clock, fixed pseudo-random sequence): rerunning it
// gives the same files.   node scripts/view/make-fixtures.mjs [outdir]

import fs from 'node:fs';
import path from 'node:path';

const OUT = process.argv[2] ?? 'src/view/fixtures';
const R_KM = 6371;
const ALT_KM = 1000;
const A_KM = 6378.137 + ALT_KM;
const MU = 398600.4418;
const N_RAD_S = Math.sqrt(MU / A_KM ** 3);
const EARTH_RAD_S = 7.2921159e-5;
const INC = (53 * Math.PI) / 180;
const C_KM_S = 299792.458;
const DURATION = 600;
const STEP = 30;
const SATS = 8;
const STATION = { id: 'gs-0', lat: 24, lon: 18 };
const MIN_ELEV_DEG = 10;
const FAULT = { link: 3, down: 210, acquiring: 390, up: 420 };
const CRASH = { sat: 'sat-5', at: 125, back: 145 };
const BULK = { start: 60, bytes: 400e9, gbps: 8.5 };

let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const r2 = (v, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

// ECEF position (km) of satellite i at t seconds.
function satEcef(i, t) {
  const u = (i * 2 * Math.PI) / SATS + N_RAD_S * t;
  const [x, y, z] = [A_KM * Math.cos(u), A_KM * Math.sin(u) * Math.cos(INC), A_KM * Math.sin(u) * Math.sin(INC)];
  const th = EARTH_RAD_S * t;
  return [x * Math.cos(th) + y * Math.sin(th), -x * Math.sin(th) + y * Math.cos(th), z];
}

const toLatLon = ([x, y, z]) => {
  const r = Math.hypot(x, y, z);
  return [(Math.asin(z / r) * 180) / Math.PI, (Math.atan2(y, x) * 180) / Math.PI];
};
const stationEcef = () => {
  const [la, lo] = [(STATION.lat * Math.PI) / 180, (STATION.lon * Math.PI) / 180];
  return [R_KM * Math.cos(la) * Math.cos(lo), R_KM * Math.cos(la) * Math.sin(lo), R_KM * Math.sin(la)];
};
const dist = (p, q) => Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);

function elevationDeg(sat, t) {
  const g = stationEcef();
  const s = satEcef(sat, t);
  const d = s.map((v, k) => v - g[k]);
  const up = g.map((v) => v / R_KM);
  const sin = (d[0] * up[0] + d[1] * up[1] + d[2] * up[2]) / Math.hypot(...d);
  return (Math.asin(sin) * 180) / Math.PI;
}

// The satellite gs-0 is served by at t (highest elevation above the mask), or null.
function serving(t) {
  let best = null;
  for (let i = 0; i < SATS; i++) {
    const e = elevationDeg(i, t);
    if (e >= MIN_ELEV_DEG && (best === null || e > elevationDeg(best, t))) best = i;
  }
  return best;
}

const faultState = (t) => {
  if (t >= FAULT.down && t < FAULT.acquiring) return 'down';
  if (t >= FAULT.acquiring && t < FAULT.up) return 'acquiring';
  return 'up';
};
const islDelayMs = (i, t) => (dist(satEcef(i, t), satEcef((i + 1) % SATS, t)) / C_KM_S) * 1000;

// Ring paths: the short way round, avoiding the faulty link while it is not up.
function ringPath(from, to, t) {
  const cw = [];
  for (let i = from; i !== to; i = (i + 1) % SATS) cw.push(i);
  cw.push(to);
  const ccw = [];
  for (let i = from; i !== to; i = (i + SATS - 1) % SATS) ccw.push(i);
  ccw.push(to);
  const usesFault = (p) => p.some((n, k) => k > 0 && Math.min(n, p[k - 1]) === FAULT.link && Math.abs(n - p[k - 1]) === 1);
  const ok = (p) => faultState(t) === 'up' || !usesFault(p);
  const cands = [cw, ccw].filter(ok).sort((a, b) => a.length - b.length);
  return cands[0];
}
const pathLinks = (p) => p.slice(1).map((n, k) => (Math.abs(n - p[k]) === 1 ? Math.min(n, p[k]) : 7));
const pathRttMs = (p, t) => 2 * pathLinks(p).reduce((s, l) => s + islDelayMs(l, t), 0);
const bulkActive = (t) => t >= BULK.start && t < bulkEnd;

function scenario() {
  const nodes = [];
  for (let i = 0; i < SATS; i++) nodes.push({ id: `sat-${i}`, label: `sat-${i}`, kind: 'satellite', constellation: 'ring' });
  nodes.push({ id: STATION.id, label: 'gs-0 (Sahara)', kind: 'ground', constellation: 'stations' });
  const links = [];
  for (let i = 0; i < SATS; i++) links.push({ id: i, a: `sat-${i}`, b: `sat-${(i + 1) % SATS}`, kind: 'isl' });
  for (let i = 0; i < SATS; i++) links.push({ id: SATS + i, a: STATION.id, b: `sat-${i}`, kind: 'gsl' });
  const workloads = [
    { index: 0, kind: 'ping', from: 'sat-0', to: 'sat-4' },
    { index: 1, kind: 'bulk', from: 'sat-2', to: 'sat-6' },
    { index: 2, kind: 'collective', ranks: ['sat-0', 'sat-2', 'sat-4', 'sat-6'] },
    { index: 3, kind: 'train', ranks: ['sat-1', 'sat-3', 'sat-5', 'sat-7'] },
  ];
  return {
    name: 'ring-8-view', epoch: '2026-01-01T00:00:00Z', duration_s: DURATION, tdf: 1,
    routing_interval_s: 15, live: false, nodes, links, workloads,
  };
}

function gslEntry(i, t, serve) {
  const id = SATS + i;
  const e = elevationDeg(i, t);
  const delay = r2((dist(stationEcef(), satEcef(i, t)) / C_KM_S) * 1000, 3);
  if (serve === i) return { id, state: 'up', reason: null, delay_ms: delay, rate_gbps: 10, utilization: 0.02 };
  const reason = e < 0 ? 'occluded' : e < MIN_ELEV_DEG ? 'out-of-range' : 'no-terminal';
  return { id, state: 'down', reason, delay_ms: delay, rate_gbps: 10, utilization: null };
}

function state(t) {
  const positions = [];
  for (let i = 0; i < SATS; i++) positions.push([...toLatLon(satEcef(i, t)).map((v) => r2(v, 4)), ALT_KM]);
  positions.push([STATION.lat, STATION.lon, 0]);
  const ping = ringPath(0, 4, t);
  const bulk = ringPath(2, 6, t);
  const links = [];
  for (let i = 0; i < SATS; i++) {
    const st = i === FAULT.link ? faultState(t) : 'up';
    let u = 0.001;
    if (pathLinks(ping).includes(i)) u += 0.004;
    if (bulkActive(t) && pathLinks(bulk).includes(i)) u += 0.85;
    links.push({
      id: i, state: st, reason: st === 'down' ? 'fault' : null, delay_ms: r2(islDelayMs(i, t), 3),
      rate_gbps: 10, utilization: st === 'up' ? r2(u, 3) : null,
    });
  }
  const serve = serving(t);
  for (let i = 0; i < SATS; i++) links.push(gslEntry(i, t, serve));
  const routes = [{ workload: 0, path: ping.map((n) => `sat-${n}`) }];
  if (bulkActive(t)) routes.push({ workload: 1, path: bulk.map((n) => `sat-${n}`) });
  return { t_s: t, positions, links, routes };
}

// Bulk: 8.5 Gb/s, stalls for 20 s after the fault, then resumes on the other way round.
const bulkRate = (t) => (t >= FAULT.down && t < FAULT.down + 20 ? 0 : BULK.gbps * (0.97 + 0.06 * rand()));
let bulkEnd = Infinity;

function bulkEvents() {
  const out = [];
  let bytes = 0;
  for (let t = BULK.start + 5; bytes < BULK.bytes; t += 5) {
    bytes = Math.min(BULK.bytes, bytes + (bulkRate(t) * 1e9 * 5) / 8);
    out.push({ event: 'bulk-progress', workload: 1, t_s: t, bytes: Math.round(bytes) });
    bulkEnd = t;
  }
  out.push({
    event: 'transfer', workload: 1, from: 'sat-2', to: 'sat-6', transport: 'tcp', cc: 'cubic', bytes: BULK.bytes,
    streams: 1, start_s: BULK.start, completed_s: bulkEnd, received: BULK.bytes, verified: true, error: null,
  });
  return out;
}

function pingEvents() {
  const out = [];
  for (let seq = 0; seq * 5 < DURATION; seq++) {
    const t = seq * 5;
    const p = ringPath(0, 4, t);
    const geo = pathRttMs(p, t);
    const lost = t >= FAULT.down && t < FAULT.down + 15;
    const rtt = lost ? null : r2(geo + 0.05 + 0.25 * rand() + (bulkActive(t) ? 0.4 * rand() : 0), 3);
    out.push({ event: 'echo', from: 'sat-0', to: 'sat-4', seq, sent_s: t, size: 56, rtt_ms: rtt, geometric_rtt_ms: r2(geo, 3) });
  }
  return out;
}

function linkEvents() {
  const out = [];
  for (let i = 0; i < SATS; i++) {
    const [a, b] = [`sat-${i}`, `sat-${(i + 1) % SATS}`];
    out.push({ event: 'link', sat: a, t_s: 0, peer: b, link: i, state: 'up' });
    out.push({ event: 'link', sat: b, t_s: 0, peer: a, link: i, state: 'up' });
  }
  const [a, b] = [`sat-${FAULT.link}`, `sat-${FAULT.link + 1}`];
  for (const [t, st] of [[FAULT.down, 'down'], [FAULT.up, 'up']]) {
    out.push({ event: 'link', sat: a, t_s: t, peer: b, link: FAULT.link, state: st });
    out.push({ event: 'link', sat: b, t_s: t + 0.004, peer: a, link: FAULT.link, state: st });
  }
  return out;
}

function handoverEvents() {
  const out = [];
  let prev = serving(0);
  for (let t = 1; t <= DURATION; t++) {
    const s = serving(t);
    if (s !== prev) {
      out.push({ event: 'handover', station: STATION.id, t_s: t, from: prev === null ? null : `sat-${prev}`, to: s === null ? null : `sat-${s}` });
      prev = s;
    }
  }
  return out;
}

const SIZES = [1, 4, 16, 64, 256].map((m) => m * 2 ** 20);
const collTime = (bytes) => 40e-3 + (2 * (3 / 4) * bytes * 8) / 9.2e9;
const collModel = (bytes) => 37e-3 + (2 * (3 / 4) * bytes * 8) / 10e9;

function collectiveEvents() {
  const out = [];
  for (const bytes of SIZES) {
    ['sat-0', 'sat-2', 'sat-4', 'sat-6'].forEach((sat, rank) =>
      out.push({ event: 'collective', workload: 2, rank, sat, bytes, time_s: r2(collTime(bytes) * (1 - 0.01 * rank), 6), verified: true, error: null }),
    );
  }
  return out;
}

const STEPS = [0, 1, 2, 3, 4].map((step) => {
  const compute = 0.8;
  const comm = step === 0 ? 0.9 : 0.55 + 0.05 * step;
  const exposed = step === 0 ? 0.5 : 0.18 + 0.03 * step;
  return { step, step_s: r2(compute + exposed, 4), compute_s: compute, comm_s: r2(comm, 4), exposed_comm_s: r2(exposed, 4) };
});

function trainEvents() {
  const out = [];
  for (const s of STEPS) {
    ['sat-1', 'sat-3', 'sat-5', 'sat-7'].forEach((sat, rank) =>
      out.push({ event: 'train-step', workload: 3, rank, sat, step: s.step, step_s: s.step_s, compute_s: s.compute_s, comm_s: s.comm_s, verified: true, error: null }),
    );
  }
  return out;
}

const spread = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const at = (p) => s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
  return { min: r2(s[0], 3), p50: r2(at(50), 3), p99: r2(at(99), 3), max: r2(s[s.length - 1], 3) };
};

function summary(events) {
  const echoes = events.filter((e) => e.event === 'echo');
  const got = echoes.filter((e) => e.rtt_ms !== null);
  const coll = SIZES.map((bytes) => {
    const t = collTime(bytes);
    const algbw = (bytes * 8) / t / 1e9;
    return {
      workload: 2, op: 'allreduce', algorithm: 'ring', transport: 'tcp', dtype: 'f32', ranks: 4, bytes, iterations: 5,
      time_s: r2(t, 6), algbw_gbps: r2(algbw, 3), busbw_gbps: r2(algbw * 1.5, 3), link_rate_gbps: 10, model_rate_gbps: 10,
      model_time_s: r2(collModel(bytes), 6), model_ratio: r2(t / collModel(bytes), 3), verified: true, error: null,
    };
  });
  const later = STEPS.slice(1);
  const mean = (k) => r2(later.reduce((s, x) => s + x[k], 0) / later.length, 4);
  return {
    scenario: 'ring-8-view', tdf: 1, seed: 1, satellites: SATS, duration_s: DURATION, ok: true, failure: null,
    ping: [{
      from: 'sat-0', to: 'sat-4', sent: echoes.length, received: got.length,
      rtt_ms: spread(got.map((e) => e.rtt_ms)), geometric_rtt_ms: spread(got.map((e) => e.geometric_rtt_ms)),
      error_ms: spread(got.map((e) => e.rtt_ms - e.geometric_rtt_ms)),
    }],
    transfers: [{
      from: 'sat-2', to: 'sat-6', transport: 'tcp', cc: 'cubic', streams: 1, bytes: BULK.bytes, received: BULK.bytes,
      seconds: bulkEnd - BULK.start, goodput_gbps: r2((BULK.bytes * 8) / (bulkEnd - BULK.start) / 1e9, 3),
      path_capacity_gbps: 10, verified: true, error: null,
    }],
    collectives: coll,
    train: [{
      workload: 3, ranks: 4, params: 1.2e9, tokens_per_step: 524288, bucket_bytes: 26214400, accelerator: 'h100',
      steps: STEPS, step_time_s: mean('step_s'), compute_time_s: mean('compute_s'), exposed_comm_s: mean('exposed_comm_s'),
      tokens_per_s: r2(524288 / mean('step_s'), 1), effective_utilization: 0.41, verified: true, error: null,
    }],
    link_changes: 4, harness: 'processes',
  };
}

const write = (name, v) => fs.writeFileSync(path.join(OUT, name), JSON.stringify(v, null, 1) + '\n');
fs.mkdirSync(OUT, { recursive: true });
const timeOf = (e) => e.t_s ?? e.sent_s ?? e.completed_s ?? Infinity;
const bulk = bulkEvents();
const events = [...linkEvents(), ...pingEvents(), ...bulk, ...handoverEvents(),
  { event: 'crash', sat: CRASH.sat, t_s: CRASH.at }, { event: 'restart', sat: CRASH.sat, t_s: CRASH.back }]
  .sort((a, b) => timeOf(a) - timeOf(b))
  .concat(collectiveEvents(), trainEvents());
write('scenario.json', scenario());
for (let t = 0; t <= DURATION; t += STEP) write(`state-${t}.json`, state(t));
write('events.json', { next: events.length, events });
write('summary.json', summary(events));
