// geo.js: the geometry of the two views. The map is equirectangular in
// degrees (x = lon, y = -lat, viewBox -180 -90 360 180), with longitudes
// unwrapped so that nothing is drawn across the antimeridian; the globe is
// orthographic in Earth radii (x right, y down, depth towards the viewer).

const RAD = Math.PI / 180;
export const EARTH_RADIUS_KM = 6371;

/** The longitude equal to lon modulo 360 that is nearest ref (within 180°). */
export function unwrapLon(ref, lon) {
  let v = lon;
  while (v - ref > 180) v -= 360;
  while (v - ref < -180) v += 360;
  return v;
}

/** Longitudes of a path made continuous (each within 180° of the previous). */
export function unwrapPath(lons) {
  const out = [];
  for (const lon of lons) out.push(out.length ? unwrapLon(out[out.length - 1], lon) : lon);
  return out;
}

/** Shifts (0, ±360) at which unwrapped longitudes must be drawn again to cover [-180, 180]. */
export function wrapShifts(lons) {
  const shifts = [];
  if (Math.min(...lons) < -180) shifts.push(360);
  if (Math.max(...lons) > 180) shifts.push(-360);
  return shifts;
}

const r2 = (v) => Math.round(v * 100) / 100;

/** SVG path data of polylines of [lon, lat] on the map. */
export function mapLinesPath(lines) {
  const parts = [];
  for (const line of lines) {
    if (line.length < 2) continue;
    parts.push(`M${line.map(([lon, lat]) => `${r2(lon)} ${r2(-lat)}`).join('L')}`);
  }
  return parts.join('');
}

/** Meridians and parallels every `step` degrees, as polylines of [lon, lat] sampled every 5°. */
export function graticule(step = 30) {
  const lines = [];
  for (let lon = -180; lon < 180; lon += step) {
    const l = [];
    for (let lat = -90 + step / 3; lat <= 90 - step / 3 + 1e-9; lat += 5) l.push([lon, lat]);
    lines.push(l);
  }
  for (let lat = -90 + step; lat < 90; lat += step) {
    const l = [];
    for (let lon = -180; lon <= 180; lon += 5) l.push([lon, lat]);
    lines.push(l);
  }
  return lines;
}

/**
 * The globe's rotation for a view centred on (lon0, lat0): a function of
 * (lat, lon, radius in Earth radii) giving [x, y, depth] (y down).
 */
export function rotation(lon0, lat0) {
  const [c0, s0] = [Math.cos(lat0 * RAD), Math.sin(lat0 * RAD)];
  return (lat, lon, r = 1) => {
    const [phi, lam] = [lat * RAD, (lon - lon0) * RAD];
    const x = r * Math.cos(phi) * Math.cos(lam);
    const y = r * Math.cos(phi) * Math.sin(lam);
    const z = r * Math.sin(phi);
    return [y, -(z * c0 - x * s0), x * c0 + z * s0];
  };
}

/** The radius (in Earth radii) of a point at alt_km. */
export const radiusOf = (altKm) => 1 + (Number.isFinite(altKm) ? altKm : 0) / EARTH_RADIUS_KM;

/** A projected point that the Earth's disc does not hide. */
export const visible = (p) => p[2] >= 0 || p[0] * p[0] + p[1] * p[1] > 1;

/**
 * A straight segment p–q (projected, with depth) split at depth 0 into the
 * part in front of the Earth's centre plane and the part behind it.
 */
export function splitChord(p, q) {
  if (p[2] >= 0 && q[2] >= 0) return { front: [p, q], back: null };
  if (p[2] < 0 && q[2] < 0) return { front: null, back: [p, q] };
  const s = p[2] / (p[2] - q[2]);
  const m = [p[0] + s * (q[0] - p[0]), p[1] + s * (q[1] - p[1]), 0];
  return p[2] >= 0 ? { front: [p, m], back: [m, q] } : { front: [m, q], back: [p, m] };
}

const r4 = (v) => Math.round(v * 10000) / 10000;

/** SVG path data of the near-side parts of [lon, lat] polylines on the globe surface. */
export function globeLinesPath(lines, rot) {
  const parts = [];
  for (const line of lines) {
    let run = [];
    let prev = null;
    const flush = () => {
      if (run.length > 1) parts.push(`M${run.map((p) => `${r4(p[0])} ${r4(p[1])}`).join('L')}`);
      run = [];
    };
    for (const [lon, lat] of line) {
      const p = rot(lat, lon, 1);
      if (prev && (prev[2] >= 0) !== (p[2] >= 0)) {
        const { front } = splitChord(prev, p);
        if (p[2] >= 0) run.push(front[0]);
        else run.push(front[1]);
      }
      if (p[2] >= 0) run.push(p);
      else flush();
      prev = p;
    }
    flush();
  }
  return parts.join('');
}
