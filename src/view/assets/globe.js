// globe.js: the globe tab. An orthographic SVG of the Earth (radius 1)
// with the same nodes, links and routes as the map, seen from a point the
// user turns by dragging or with the sliders (longitude, latitude, zoom).
// Whatever lies behind the Earth's centre plane is drawn under the opaque
// disc, so the Earth hides it unless it stands out past the limb. Its
// classes (gnode, glink, groute) differ from the map's so the two views
// never mix in a query.

import { setAttrs, setTitle, svg } from './dom.js';
import { globeLinesPath, graticule, radiusOf, rotation, splitChord } from './geo.js';
import { linkTitle, routeTitle, routeWidth } from './map.js';
import { Store } from './store.js';

export class GlobeView {
  /** controls: {lon, lat, zoom} range inputs. */
  constructor(svgEl, store, land, controls) {
    this.svg = svgEl;
    this.store = store;
    this.land = land?.lines ?? [];
    this.grat = graticule(30);
    this.controls = controls;
    this.view = { lon: 0, lat: 20, zoom: 1, placed: false };
    this.visible = false;
    this.showDown = new Set();
    this.last = null;
    this.build();
    this.bind();
  }

  build() {
    const s = this.svg;
    setAttrs(s, { preserveAspectRatio: 'xMidYMid meet', 'aria-labelledby': 'globe-title' });
    svg('title', { id: 'globe-title' }, s).textContent = 'Globe: satellites, ground stations, links and routes';
    this.backG = svg('g', { class: 'globe-back' }, s);
    svg('circle', { class: 'earth', r: 1 }, s);
    this.gratPath = svg('path', { class: 'graticule' }, s);
    this.landPath = svg('path', { class: 'land' }, s);
    svg('circle', { class: 'limb', r: 1 }, s);
    this.frontG = svg('g', { class: 'globe-front' }, s);
    this.surfaceKey = '';
    this.dense = this.store.nodes.length > 300;
    s.classList.toggle('dense', this.dense);
  }

  bind() {
    const { lon, lat, zoom } = this.controls;
    const fromInputs = () => this.turn(Number(lon.value), Number(lat.value), Number(zoom.value));
    for (const c of [lon, lat, zoom]) c.addEventListener('input', fromInputs);
    let drag = null;
    this.svg.addEventListener('pointerdown', (e) => {
      drag = { x: e.clientX, y: e.clientY, lon: this.view.lon, lat: this.view.lat };
      this.svg.setPointerCapture(e.pointerId);
    });
    this.svg.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const k = 180 / (this.svg.clientHeight || 400) / this.view.zoom;
      this.turn(drag.lon - (e.clientX - drag.x) * k, drag.lat + (e.clientY - drag.y) * k, this.view.zoom);
    });
    const stop = () => { drag = null; };
    this.svg.addEventListener('pointerup', stop);
    this.svg.addEventListener('pointercancel', stop);
    this.svg.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.turn(this.view.lon, this.view.lat, this.view.zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1));
    }, { passive: false });
  }

  /** Sets the view (centre longitude and latitude, zoom) and redraws soon. */
  turn(lon, lat, zoom) {
    const v = this.view;
    v.lon = ((((lon + 180) % 360) + 360) % 360) - 180;
    v.lat = Math.max(-90, Math.min(90, lat));
    v.zoom = Math.max(Number(this.controls.zoom.min), Math.min(Number(this.controls.zoom.max), zoom));
    v.placed = true;
    this.controls.lon.value = String(Math.round(v.lon));
    this.controls.lat.value = String(Math.round(v.lat));
    this.controls.zoom.value = String(v.zoom);
    this.schedule();
  }

  schedule() {
    if (this.pending || !this.visible) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = 0;
      this.render();
    });
  }

  setVisible(on) {
    this.visible = on;
    if (on) this.schedule();
  }

  setShowDown(kind, on) {
    if (on) this.showDown.add(kind);
    else this.showDown.delete(kind);
    this.schedule();
  }

  /** Keeps the state to draw; draws it if the tab is shown. */
  update(state, crashed) {
    this.last = { state, crashed };
    if (!this.view.placed) this.centreOn(state);
    this.schedule();
  }

  /** Faces the ground stations' mean longitude (the satellites' if there is none). */
  centreOn(state) {
    const ground = this.store.nodes.some((n) => n.kind === 'ground');
    let [x, y] = [0, 0];
    this.store.nodes.forEach((n, i) => {
      const p = state.positions?.[i];
      if (!Array.isArray(p) || (ground && n.kind !== 'ground')) return;
      x += Math.cos((p[1] * Math.PI) / 180);
      y += Math.sin((p[1] * Math.PI) / 180);
    });
    this.view.lon = Math.hypot(x, y) > 1e-6 ? (Math.atan2(y, x) * 180) / Math.PI : 0;
    this.controls.lon.value = String(Math.round(this.view.lon));
  }

  render() {
    const v = this.view;
    const half = 1.3 / v.zoom;
    setAttrs(this.svg, { viewBox: `${-half} ${-half} ${2 * half} ${2 * half}` });
    const rot = rotation(v.lon, v.lat);
    this.renderSurface(rot);
    this.backG.replaceChildren();
    this.frontG.replaceChildren();
    if (!this.last) return;
    const { state, crashed } = this.last;
    const proj = new Map();
    this.store.nodes.forEach((n, i) => {
      const p = state.positions?.[i];
      if (Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1])) proj.set(n.id, rot(p[0], p[1], radiusOf(p[2])));
    });
    this.renderLinks(proj, new Map((state.links ?? []).map((l) => [l.id, l])));
    this.renderRoutes(proj, state.routes ?? []);
    this.renderNodes(proj, crashed);
  }

  renderSurface(rot) {
    const key = `${this.view.lon},${this.view.lat}`;
    if (key === this.surfaceKey) return;
    this.surfaceKey = key;
    this.gratPath.setAttribute('d', globeLinesPath(this.grat, rot));
    this.landPath.setAttribute('d', globeLinesPath(this.land, rot));
  }

  renderLinks(proj, byId) {
    for (const l of this.store.links) {
      const st = byId.get(l.id) ?? { state: 'down', reason: null };
      const state = ['up', 'acquiring'].includes(st.state) ? st.state : 'down';
      if (state === 'down' && !this.showDown.has(l.kind)) continue;
      const [p, q] = [proj.get(l.a), proj.get(l.b)];
      if (!p || !q) continue;
      const u = Number.isFinite(st.utilization) ? Math.min(1, Math.max(0, st.utilization)) : 0;
      const attrs = {
        class: `${state === 'down' ? 'glink-down' : 'glink'} ${l.kind}`, 'data-id': l.id, 'data-state': state,
        'stroke-width': state === 'down' ? 1 : (this.dense ? 0.5 + 2.5 * u : 1.2 + 4 * u).toFixed(2),
      };
      const parts = splitChord(p, q);
      for (const [seg, g] of [[parts.back, this.backG], [parts.front, this.frontG]]) {
        if (!seg) continue;
        const el = svg('line', { ...attrs, ...ends(seg) }, g);
        setTitle(el, linkTitle(l, st, state));
      }
    }
  }

  renderRoutes(proj, routes) {
    routes.forEach((r, k) => {
      const pts = (r.path ?? []).map((id) => proj.get(id)).filter(Boolean);
      const front = [];
      const back = [];
      for (let i = 1; i < pts.length; i++) {
        const parts = splitChord(pts[i - 1], pts[i]);
        if (parts.front) front.push(segPath(parts.front));
        if (parts.back) back.push(segPath(parts.back));
      }
      const attrs = { class: `groute ${Store.workloadClass(r.workload)}`, 'data-workload': r.workload, 'stroke-width': routeWidth(k) };
      if (back.length) svg('path', { ...attrs, d: back.join('') }, this.backG);
      const el = svg('path', { ...attrs, d: front.join('') }, this.frontG);
      setTitle(el, routeTitle(this.store, r));
    });
  }

  renderNodes(proj, crashed) {
    const sats = this.store.nodes.filter((n) => n.kind !== 'ground').length;
    const r = (sats > 300 ? 0.011 : 0.022) / this.view.zoom;
    for (const n of this.store.nodes) {
      const p = proj.get(n.id);
      if (!p) continue;
      const g = p[2] >= 0 ? this.frontG : this.backG;
      const cls = `gnode ${crashed.has(n.id) ? 'crashed ' : ''}`;
      const el = n.kind === 'ground'
        ? svg('rect', { class: `${cls}ground`, x: p[0] - r, y: p[1] - r, width: 2 * r, height: 2 * r }, g)
        : svg('circle', { class: `${cls}satellite ${this.store.constellationClass(n)}`, cx: p[0], cy: p[1], r }, g);
      el.setAttribute('data-id', n.id);
      setTitle(el, `${n.label ?? n.id}${crashed.has(n.id) ? ' (crashed)' : ''}`);
    }
  }
}

const f = (v) => Math.round(v * 10000) / 10000;
const ends = ([p, q]) => ({ x1: f(p[0]), y1: f(p[1]), x2: f(q[0]), y2: f(q[1]) });
const segPath = ([p, q]) => `M${f(p[0])} ${f(p[1])}L${f(q[0])} ${f(q[1])}`;
