// app.js: the page's entry point. Loads the scenario and the coastlines,
// builds the map, globe, legend, panels, event log and time bar, then runs
// in replay mode (the page moves time and fetches /api/state for the shown
// instant; ?t=SECONDS starts there) or live mode (it follows /api/live).
// #globe opens the globe tab. Sets
// document.body.dataset.ready = "1" once the scenario and a first state are
// drawn; on a fatal error, document.body.dataset.error holds the message.

import * as api from './api.js';
import { GlobeView } from './globe.js';
import { buildLegend, showScenario } from './legend.js';
import { EventLog } from './log.js';
import { MapView } from './map.js';
import { Panels } from './panels.js';
import { Store } from './store.js';
import { StateFetcher, TimeBar } from './time.js';

const $ = (id) => document.getElementById(id);
const SUMMARY_POLL_MS = 5000;

watchCsp();
main().catch(fail);

async function main() {
  const scenario = await api.getScenario();
  const land = await api.getLand().catch((e) => {
    console.warn('coastlines unavailable:', e);
    return null;
  });
  const store = new Store(scenario);
  const ui = buildUi(store, land);
  setInterval(() => ui.refresh(), 250);
  if (scenario.live) runLive(store, ui);
  else runReplay(store, ui);
}

function buildUi(store, land) {
  showScenario($('scenario-name'), $('info'), store);
  const map = new MapView($('map'), store, land);
  const globe = new GlobeView($('globe'), store, land, { lon: $('globe-lon'), lat: $('globe-lat'), zoom: $('globe-zoom') });
  buildLegend($('legend'), store, (kind, on) => {
    map.showDown(kind, on);
    globe.setShowDown(kind, on);
  });
  setupTabs((name) => globe.setVisible(name === 'globe'));
  const panels = new Panels($('panels'), store);
  const log = new EventLog($('log'), $('log-count'), store);
  const ui = { t: 0, logUpTo: 0 };
  ui.draw = (state) => {
    const crashed = store.crashedAt(state.t_s ?? ui.t);
    map.update(state, crashed);
    globe.update(state, crashed);
    document.body.dataset.ready = '1';
  };
  ui.showTime = (t) => {
    ui.t = t;
    panels.setCursor(t);
    log.render(ui.logUpTo === Infinity ? Infinity : t);
  };
  ui.refresh = () => {
    panels.refresh();
    log.render(ui.logUpTo === Infinity ? Infinity : ui.t);
  };
  return ui;
}

const timeEls = () => ({ play: $('play'), slider: $('time'), clock: $('clock'), instant: $('instant'), speed: $('speed') });

function runReplay(store, ui) {
  setMode('replay', 'Replay');
  const fetcher = new StateFetcher(api.getState, ui.draw, (e) => warn(`state: ${e.message}`));
  const bar = new TimeBar(timeEls(), store.scenario, (t) => {
    ui.showTime(t);
    fetcher.want(t);
  });
  const start = Number(new URLSearchParams(location.search).get('t'));
  bar.seek(Number.isFinite(start) ? start : 0);
  api.getAllEvents(0, (evs) => evs.forEach((e) => store.ingest(e))).catch((e) => warn(`events: ${e.message}`));
  api.getSummary().then((s) => s && store.setSummary(s)).catch((e) => warn(`summary: ${e.message}`));
}

function runLive(store, ui) {
  setMode('live', 'Live');
  ui.logUpTo = Infinity;
  const bar = new TimeBar(timeEls(), store.scenario, ui.showTime);
  bar.setLive();
  let live = false;
  const events = liveEvents(store);
  api.followLive({
    onState: (s) => {
      live = true;
      ui.draw(s);
      bar.progress(s.t_s);
      setMode('live', 'Live');
    },
    onEvent: events.add,
    onEnd: () => {
      setMode('ended', 'Live · run over');
      pollSummary(store, 0);
    },
    onError: (closed) => setMode('lost', closed ? 'Live · disconnected' : 'Live · reconnecting…'),
  });
  api.getState(0).then((s) => live || ui.draw(s)).catch((e) => warn(`state: ${e.message}`));
  api.getAllEvents(0, events.backfill).then(events.caughtUp).catch((e) => warn(`events: ${e.message}`));
  pollSummary(store, SUMMARY_POLL_MS);
}

/**
 * Merges the backfill (/api/events) with the stream: stream events are held
 * until the backfill is in, then those it already had are dropped (by SSE
 * id when the server gives one, else by identical JSON).
 */
function liveEvents(store) {
  let held = [];
  let next = null;
  const had = new Set();
  return {
    backfill: (evs) => evs.forEach((e) => {
      had.add(JSON.stringify(e));
      store.ingest(e);
    }),
    caughtUp: (n) => {
      next = n;
      for (const [e, id] of held) if (!(id !== null ? id < next : had.has(JSON.stringify(e)))) store.ingest(e);
      held = null;
      had.clear();
    },
    add: (e, id) => {
      if (held) held.push([e, id]);
      else if (id === null || id >= next) store.ingest(e);
    },
  };
}

function pollSummary(store, everyMs) {
  api.getSummary()
    .then((s) => {
      if (s) store.setSummary(s);
      else if (everyMs) setTimeout(() => pollSummary(store, everyMs), everyMs);
    })
    .catch((e) => warn(`summary: ${e.message}`));
}

function setupTabs(onChange) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab, focus = false) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    if (focus) tab.focus();
    document.body.dataset.tab = tab.dataset.tab;
    onChange(tab.dataset.tab);
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab));
    tab.addEventListener('keydown', (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (step) select(tabs[(i + step + tabs.length) % tabs.length], true);
    });
  });
  const wanted = tabs.find((t) => `#${t.dataset.tab}` === location.hash);
  select(wanted ?? tabs[0]);
}

function setMode(mode, text) {
  const el = $('mode');
  el.dataset.mode = mode;
  el.textContent = text;
  document.body.dataset.mode = mode;
}

function warn(message) {
  console.warn(message);
  const el = $('status');
  el.textContent = message;
  el.hidden = false;
}

function fail(e) {
  const message = e instanceof Error ? e.message : String(e);
  console.error(e);
  document.body.dataset.error = message;
  const el = $('error');
  el.textContent = `The view could not start: ${message}`;
  el.hidden = false;
}

/** Counts Content-Security-Policy violations in body[data-csp-violations] (for tests). */
function watchCsp() {
  document.addEventListener('securitypolicyviolation', (e) => {
    const n = Number(document.body.dataset.cspViolations ?? 0) + 1;
    document.body.dataset.cspViolations = String(n);
    console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
  });
}
