// legend.js: the header's scenario line and the legend under the views:
// constellation colours, ground stations, link states, each workload's
// route colour, and the switches that show or hide down links.

import { html } from './dom.js';
import { Store } from './store.js';

/** Fills the header's scenario name and one line of facts. */
export function showScenario(nameEl, infoEl, store) {
  const s = store.scenario;
  const sats = store.nodes.filter((n) => n.kind !== 'ground').length;
  const ground = store.nodes.length - sats;
  nameEl.textContent = s.name ?? 'scenario';
  const facts = [
    `${sats} satellite${sats === 1 ? '' : 's'}`,
    ground ? `${ground} ground station${ground === 1 ? '' : 's'}` : null,
    `${store.links.length} links`,
    Number.isFinite(s.tdf) ? `TDF ${s.tdf}` : null,
    Number.isFinite(s.routing_interval_s) ? `routes every ${s.routing_interval_s} s` : null,
    s.epoch ? `epoch ${s.epoch}` : null,
  ];
  infoEl.textContent = facts.filter(Boolean).join(' · ');
  document.title = `${s.name ?? 'orbnet'} · orbnet view`;
}

/** Builds the legend; onShowDown(kind, on) is told when a down-link switch changes. */
export function buildLegend(root, store, onShowDown) {
  root.replaceChildren();
  const group = (label) => {
    const g = html('div', { class: 'legend-group', role: 'group', 'aria-label': label }, null, root);
    html('span', { class: 'legend-title' }, label, g);
    return g;
  };
  const sats = group('Satellites');
  for (const c of store.constellations) {
    const n = store.nodes.filter((x) => x.kind !== 'ground' && (x.constellation ?? '') === c).length;
    item(sats, `swatch dot ${store.constellationClass({ constellation: c })}`, `${c || 'satellites'} (${n})`);
  }
  if (store.nodes.some((n) => n.kind === 'ground')) item(sats, 'swatch square ground', 'ground station');
  item(sats, 'swatch dot crashed', 'crashed');
  const links = group('Links');
  for (const st of ['up', 'acquiring', 'down']) item(links, `swatch line state-${st}`, st);
  toggles(links, store, onShowDown);
  const routes = store.workloads.filter((w) => w.from && w.to);
  if (routes.length) {
    const g = group('Routes');
    for (const w of routes) item(g, `swatch line ${Store.workloadClass(w.index)}`, `${w.index} ${w.kind} ${w.from} → ${w.to}`);
  }
}

function item(parent, swatchClass, text) {
  const s = html('span', { class: 'legend-item' }, null, parent);
  html('span', { class: swatchClass, 'aria-hidden': 'true' }, null, s);
  html('span', {}, text, s);
}

function toggles(parent, store, onShowDown) {
  const kinds = [['isl', 'show down ISLs', true], ['gsl', 'show down ground links', false]];
  for (const [kind, label, on] of kinds) {
    if (!store.links.some((l) => l.kind === kind)) continue;
    const lab = html('label', { class: 'legend-item toggle' }, null, parent);
    const box = html('input', { type: 'checkbox', id: `show-down-${kind}` }, null, lab);
    box.checked = on;
    html('span', {}, label, lab);
    box.addEventListener('change', () => onShowDown(kind, box.checked));
    onShowDown(kind, on);
  }
}
