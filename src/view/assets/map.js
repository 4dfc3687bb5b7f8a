// map.js: the world map tab. An equirectangular SVG (x = lon, y = -lat)
// with the graticule and coastlines, one element per node, one
// <line class="link"> per link that is up or acquiring (class "link-down"
// when down), routes as <polyline class="route">, and a second
// "link-wrap"/"route-wrap" copy for whatever crosses the antimeridian, all
// clipped to the map so nothing runs across it.

import { patchAttrs, setAttrs, setTitle, svg } from './dom.js';
import { graticule, mapLinesPath, unwrapLon, unwrapPath, wrapShifts } from './geo.js';
import { Store } from './store.js';

const LABEL_LIMIT = 24;
/** Above this many nodes or links, tooltips are made on hover instead of at every state. */
const EAGER_TITLES = 1000;

export class MapView {
  /** svgEl: the empty <svg id="map">; land: {lines} or null. */
  constructor(svgEl, store, land) {
    this.svg = svgEl;
    this.store = store;
    this.nodeEls = new Map();
    this.labelEls = new Map();
    this.linkEls = new Map();
    this.wrapEls = new Map();
    this.downShown = new Set();
    this.build(land);
  }

  build(land) {
    const s = this.svg;
    setAttrs(s, { viewBox: '-180 -90 360 180', preserveAspectRatio: 'xMidYMid meet', 'aria-labelledby': 'map-title' });
    svg('title', { id: 'map-title' }, s).textContent = 'World map: satellites, ground stations, links and routes';
    const clip = svg('clipPath', { id: 'map-clip' }, svg('defs', {}, s));
    svg('rect', { x: -180, y: -90, width: 360, height: 180 }, clip);
    svg('rect', { class: 'ocean', x: -180, y: -90, width: 360, height: 180 }, s);
    const g = svg('g', { 'clip-path': 'url(#map-clip)' }, s);
    svg('path', { class: 'graticule', d: mapLinesPath(graticule(30)) }, g);
    if (land) svg('path', { class: 'land', d: mapLinesPath(land.lines) }, g);
    this.linksG = svg('g', { class: 'links' }, g);
    this.routesG = svg('g', { class: 'routes' }, g);
    this.nodesG = svg('g', { class: 'nodes' }, g);
    this.labelsG = svg('g', { class: 'labels', 'aria-hidden': 'true' }, g);
    this.buildNodes();
    this.buildLinks();
    this.eager = this.store.nodes.length + this.store.links.length <= EAGER_TITLES;
    this.dense = this.store.nodes.length > 300;
    this.svg.classList.toggle('dense', this.dense);
    if (!this.eager) g.addEventListener('pointerover', (e) => this.titleOnHover(e.target));
  }

  /** Large scenarios: the tooltip of the node or link under the pointer. */
  titleOnHover(el) {
    if (!this.last) return;
    const id = el.getAttribute('data-id');
    if (id === null) return;
    if (el.classList.contains('node')) {
      const n = this.store.nodeById.get(id);
      const p = this.last.pos(id);
      if (n && p) setTitle(el, nodeTitle(n, p, this.last.crashed.has(id)));
    } else if (el.tagName === 'line') {
      const l = this.store.linkById.get(Number(id));
      const st = this.last.byId.get(Number(id)) ?? { state: 'down', reason: null };
      if (l) setTitle(el, linkTitle(l, st, el.getAttribute('data-state')));
    }
  }

  buildNodes() {
    const sats = this.store.nodes.filter((n) => n.kind !== 'ground').length;
    this.satRadius = sats > 300 ? 0.7 : sats > 60 ? 1.1 : 1.6;
    const labels = this.store.nodes.length <= LABEL_LIMIT;
    for (const n of this.store.nodes) {
      const el = n.kind === 'ground'
        ? svg('rect', { class: 'node ground unplaced', width: 2.6, height: 2.6 }, this.nodesG)
        : svg('circle', { class: `node satellite ${this.store.constellationClass(n)} unplaced`, r: this.satRadius }, this.nodesG);
      setAttrs(el, { 'data-id': n.id, 'data-constellation': n.constellation ?? '' });
      this.nodeEls.set(n.id, el);
      if (labels) this.labelEls.set(n.id, svg('text', { class: 'node-label unplaced' }, this.labelsG));
    }
  }

  buildLinks() {
    for (const l of this.store.links) {
      const el = svg('line', { class: `link-down ${l.kind}`, 'data-id': l.id, 'data-a': l.a, 'data-b': l.b, 'data-state': 'down' }, this.linksG);
      this.linkEls.set(l.id, el);
    }
  }

  /** Draws the state ({positions, links, routes}); crashed: Set of node ids. */
  update(state, crashed) {
    const pos = (id) => {
      const p = state.positions?.[this.store.nodeIndex.get(id)];
      return Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]) ? p : null;
    };
    const byId = new Map((state.links ?? []).map((l) => [l.id, l]));
    this.last = { state, pos, crashed, byId };
    this.updateNodes(pos, crashed);
    this.updateLinks(pos, byId);
    this.updateRoutes(pos, state.routes ?? []);
  }

  updateNodes(pos, crashed) {
    for (const n of this.store.nodes) {
      const el = this.nodeEls.get(n.id);
      const p = pos(n.id);
      el.classList.toggle('unplaced', !p);
      el.classList.toggle('crashed', crashed.has(n.id));
      if (!p) continue;
      const [lat, lon] = p;
      if (n.kind === 'ground') patchAttrs(el, { x: lon - 1.3, y: -lat - 1.3 });
      else patchAttrs(el, { cx: lon, cy: -lat });
      if (this.eager) setTitle(el, nodeTitle(n, p, crashed.has(n.id)));
      const label = this.labelEls.get(n.id);
      if (label) {
        label.classList.remove('unplaced');
        patchAttrs(label, { x: lon + 2.2, y: -lat - 1.6 });
        label.textContent = n.label ?? n.id;
      }
    }
  }

  updateLinks(pos, byId) {
    for (const l of this.store.links) {
      const el = this.linkEls.get(l.id);
      const st = byId.get(l.id) ?? { id: l.id, state: 'down', reason: null };
      const [pa, pb] = [pos(l.a), pos(l.b)];
      const state = ['up', 'acquiring'].includes(st.state) ? st.state : 'down';
      const cls = `${state === 'down' ? 'link-down' : 'link'} ${l.kind}${pa && pb ? '' : ' unplaced'}`;
      patchAttrs(el, { class: cls, 'data-state': state, 'data-reason': st.reason ?? null, 'stroke-width': strokeWidth(st, state, this.dense) });
      if (this.eager) setTitle(el, linkTitle(l, st, state));
      if (!pa || !pb || (state === 'down' && !this.downShown.has(l.kind))) {
        this.setWrap(l, null);
        continue;
      }
      const lonB = unwrapLon(pa[1], pb[1]);
      patchAttrs(el, { x1: pa[1], y1: -pa[0], x2: lonB, y2: -pb[0] });
      const shift = pb[1] - lonB;
      this.setWrap(l, shift === 0 ? null : { x1: pa[1] + shift, y1: -pa[0], x2: pb[1], y2: -pb[0] }, el);
    }
  }

  /** Shows (attrs) or removes (null) the antimeridian copy of a link. */
  setWrap(l, attrs, main = null) {
    let w = this.wrapEls.get(l.id);
    if (!attrs) {
      if (w) w.remove();
      this.wrapEls.delete(l.id);
      return;
    }
    if (!w) {
      w = svg('line', { 'data-link': l.id, 'aria-hidden': 'true' }, this.linksG);
      this.wrapEls.set(l.id, w);
    }
    const down = main.getAttribute('data-state') === 'down';
    patchAttrs(w, {
      ...attrs, class: `link-wrap${down ? ' link-down' : ''} ${l.kind}`,
      'data-state': main.getAttribute('data-state'), 'stroke-width': main.getAttribute('stroke-width'),
    });
  }

  updateRoutes(pos, routes) {
    this.routesG.replaceChildren();
    routes.forEach((r, k) => {
      const pts = (r.path ?? []).map(pos).filter(Boolean);
      const lons = unwrapPath(pts.map((p) => p[1]));
      const points = (shift) => pts.map((p, i) => `${round(lons[i] + shift)},${round(-p[0])}`).join(' ');
      const attrs = { 'data-workload': r.workload, 'stroke-width': routeWidth(k) };
      const cls = Store.workloadClass(r.workload);
      const el = svg('polyline', { class: `route ${cls}`, ...attrs, points: points(0) }, this.routesG);
      setTitle(el, routeTitle(this.store, r));
      for (const s of lons.length ? wrapShifts(lons) : []) {
        svg('polyline', { class: `route-wrap ${cls}`, ...attrs, points: points(s), 'aria-hidden': 'true' }, this.routesG);
      }
    });
  }

  /** Shows or hides down links of a kind ("isl" or "gsl"); hidden ones are not moved. */
  showDown(kind, on) {
    this.svg.classList.toggle(`show-down-${kind}`, on);
    if (on) this.downShown.add(kind);
    else this.downShown.delete(kind);
    if (this.last) this.update(this.last.state, this.last.crashed);
  }
}

const round = (v) => Math.round(v * 100) / 100;

/** Route k's width in pixels: each narrower than the one before, so shared hops show every colour. */
export const routeWidth = (k) => Math.max(1.5, 5.5 - 1.5 * k);

/** Stroke width in screen pixels: thicker with utilisation. */
function strokeWidth(st, state, dense = false) {
  if (state === 'down') return 1;
  const u = Number.isFinite(st.utilization) ? Math.min(1, Math.max(0, st.utilization)) : 0;
  return dense ? round(0.5 + 2.5 * u) : round(1.2 + 4 * u);
}

function nodeTitle(n, [lat, lon, alt], crashed) {
  const where = `${lat.toFixed(2)}°, ${lon.toFixed(2)}°${Number.isFinite(alt) ? `, ${alt.toFixed(0)} km` : ''}`;
  const what = n.kind === 'ground' ? 'ground station' : `satellite (${n.constellation ?? ''})`;
  return `${n.label ?? n.id}: ${what} at ${where}${crashed ? ' — crashed' : ''}`;
}

export function linkTitle(l, st, state) {
  const head = `link ${l.id} ${l.a} ↔ ${l.b} (${l.kind.toUpperCase()}): ${state}`;
  if (state === 'down') return `${head}${st.reason ? ` (${st.reason})` : ''}`;
  const parts = [];
  if (Number.isFinite(st.delay_ms)) parts.push(`${st.delay_ms.toFixed(2)} ms`);
  if (Number.isFinite(st.rate_gbps)) parts.push(`${st.rate_gbps} Gb/s`);
  if (Number.isFinite(st.utilization)) parts.push(`${(st.utilization * 100).toFixed(0)} % used`);
  return parts.length ? `${head}, ${parts.join(', ')}` : head;
}

export function routeTitle(store, r) {
  const w = store.workload(r.workload);
  return `workload ${r.workload}${w ? ` (${w.kind})` : ''} route: ${(r.path ?? []).join(' → ')}`;
}
