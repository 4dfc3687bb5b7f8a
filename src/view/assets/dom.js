// dom.js: small helpers shared by the modules: making SVG and HTML elements
// (attributes only: the page's Content-Security-Policy forbids inline
// styles) and formatting times, bytes and rates for people.

export const SVG_NS = 'http://www.w3.org/2000/svg';

/** Sets (or, for null/undefined, removes) the attributes of an element. */
export function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) el.removeAttribute(k);
    else el.setAttribute(k, String(v));
  }
  return el;
}

/**
 * Like setAttrs, but writes only the attributes whose value changed since
 * the last patch of this element (for elements updated at every state).
 */
export function patchAttrs(el, attrs) {
  const seen = el.orbnetAttrs ?? (el.orbnetAttrs = {});
  for (const [k, v] of Object.entries(attrs)) {
    const s = v === null || v === undefined ? null : String(v);
    if (seen[k] === s) continue;
    seen[k] = s;
    if (s === null) el.removeAttribute(k);
    else el.setAttribute(k, s);
  }
  return el;
}

/** A new SVG element with attributes, appended to parent when given. */
export function svg(name, attrs = {}, parent = null) {
  const el = setAttrs(document.createElementNS(SVG_NS, name), attrs);
  if (parent) parent.appendChild(el);
  return el;
}

/** A new HTML element with attributes and text, appended to parent when given. */
export function html(name, attrs = {}, text = null, parent = null) {
  const el = setAttrs(document.createElement(name), attrs);
  if (text !== null) el.textContent = text;
  if (parent) parent.appendChild(el);
  return el;
}

/** Sets the tooltip (<title> child) of an SVG element. */
export function setTitle(el, text) {
  let t = el.firstElementChild;
  if (!t || t.tagName !== 'title') t = el.insertBefore(document.createElementNS(SVG_NS, 'title'), el.firstChild);
  if (t.textContent !== text) t.textContent = text;
}

/** "12.3 s", "4 min 05.0 s" or "1 h 02 min". */
export function fmtDuration(s) {
  if (!Number.isFinite(s)) return '–';
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${(s % 60).toFixed(1).padStart(4, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** The UTC instant epoch + t as "2026-01-01 00:02:03 UTC" (epoch: RFC 3339). */
export function fmtInstant(epoch, t) {
  const ms = Date.parse(epoch);
  if (!Number.isFinite(ms)) return '';
  return `${new Date(ms + t * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Bytes in binary units: "64 MiB". */
export function fmtBytes(b) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i += 1;
  }
  return `${Number.isInteger(b) ? b : b.toFixed(1)} ${units[i]}`;
}

/** A number with at most `digits` significant figures, no exponent for usual sizes. */
export function fmtNum(v, digits = 3) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(digits)));
}
