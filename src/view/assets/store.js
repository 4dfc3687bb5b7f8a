// store.js: what the page knows about the run: the scenario and its
// indexes (node order, links, workloads, colour classes), the events
// received so far sorted by kind, the event log entries, and the summary.
// Views read it; only app.js writes to it.

const LOG_KINDS = new Set(['crash', 'restart', 'link', 'handover', 'transfer']);

export class Store {
  constructor(scenario) {
    this.scenario = scenario;
    this.nodes = scenario.nodes ?? [];
    this.links = scenario.links ?? [];
    this.workloads = scenario.workloads ?? [];
    this.nodeIndex = new Map(this.nodes.map((n, i) => [n.id, i]));
    this.nodeById = new Map(this.nodes.map((n) => [n.id, n]));
    this.linkById = new Map(this.links.map((l) => [l.id, l]));
    this.constellations = [...new Set(this.nodes.filter((n) => n.kind !== 'ground').map((n) => n.constellation ?? ''))];
    this.echoes = [];
    this.progress = new Map();
    this.transfers = new Map();
    this.collectives = [];
    this.trainSteps = [];
    this.outages = [];
    this.log = [];
    this.summary = null;
    this.version = 0;
    this.linkStates = new Map();
    this.lastLinkLog = new Map();
  }

  /** The colour class (c0…c7) of a node's constellation. */
  constellationClass(node) {
    const i = this.constellations.indexOf(node.constellation ?? '');
    return `c${Math.max(0, i) % 8}`;
  }

  /** The colour class (w0…w7) of a workload's route. */
  static workloadClass(index) {
    return `w${Number(index) % 8}`;
  }

  /** A workload by index, or undefined. */
  workload(index) {
    return this.workloads.find((w) => w.index === index);
  }

  /** Adds one event from /api/events or the live stream. */
  ingest(e) {
    if (!e || typeof e.event !== 'string') return;
    this.version += 1;
    switch (e.event) {
      case 'echo': this.echoes.push(e); break;
      case 'bulk-progress': this.pushProgress(e); break;
      case 'transfer': this.transfers.set(e.workload, e); break;
      case 'collective': this.collectives.push(e); break;
      case 'train-step': this.trainSteps.push(e); break;
      case 'crash': case 'restart': this.outages.push(e); break;
      default: break;
    }
    if (LOG_KINDS.has(e.event)) this.addLog(e);
  }

  pushProgress(e) {
    if (!this.progress.has(e.workload)) this.progress.set(e.workload, []);
    this.progress.get(e.workload).push([e.t_s, e.bytes]);
  }

  setSummary(s) {
    this.summary = s;
    this.version += 1;
  }

  /** Satellites crashed (and not yet restarted) at virtual time t. */
  crashedAt(t) {
    const down = new Set();
    const sorted = [...this.outages].sort((a, b) => a.t_s - b.t_s);
    for (const e of sorted) {
      if (e.t_s > t) break;
      if (e.event === 'crash') down.add(e.sat);
      else down.delete(e.sat);
    }
    return down;
  }

  addLog(e) {
    const entry = logEntry(e, this);
    if (!entry) return;
    this.log.push(entry);
    if (this.log.length > 1 && this.log[this.log.length - 2].t > entry.t) this.log.sort((a, b) => a.t - b.t);
  }

  /**
   * Whether a link report is news: a port's first report is its state at
   * the start, and both ends report the same change within a second.
   */
  linkIsNews(e) {
    const port = `${e.sat}/${e.link}`;
    const before = this.linkStates.get(port);
    this.linkStates.set(port, e.state);
    if (before === undefined || before === e.state) return false;
    const key = `${e.link}/${e.state}`;
    const last = this.lastLinkLog.get(key);
    this.lastLinkLog.set(key, e.t_s);
    return last === undefined || Math.abs(e.t_s - last) > 1;
  }
}

/** The log entry ({t, kind, text}) of an event, or null if it is not worth one. */
function logEntry(e, store) {
  switch (e.event) {
    case 'crash': return { t: e.t_s, kind: 'crash', text: `${e.sat} crashed` };
    case 'restart': return { t: e.t_s, kind: 'restart', text: `${e.sat} restarted` };
    case 'handover': return { t: e.t_s, kind: 'handover', text: handoverText(e) };
    case 'link':
      if (!store.linkIsNews(e)) return null;
      return { t: e.t_s, kind: `link-${e.state}`, text: `link ${e.link} ${e.sat} ↔ ${e.peer} ${e.state}` };
    case 'transfer': return transferEntry(e);
    default: return null;
  }
}

function handoverText(e) {
  if (!e.from) return `${e.station} connected to ${e.to}`;
  if (!e.to) return `${e.station} lost ${e.from}: no satellite in view`;
  return `${e.station} handed over from ${e.from} to ${e.to}`;
}

function transferEntry(e) {
  if (e.completed_s === null || e.completed_s === undefined) {
    return { t: e.start_s ?? 0, kind: 'transfer-failed', text: `transfer ${e.workload} ${e.from} → ${e.to} failed: ${e.error ?? 'unfinished'}` };
  }
  const ok = e.verified ? 'verified' : `NOT verified${e.error ? `: ${e.error}` : ''}`;
  return { t: e.completed_s, kind: 'transfer', text: `transfer ${e.workload} ${e.from} → ${e.to} done, ${ok}` };
}
