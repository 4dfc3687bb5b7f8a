// make-land.mjs: turn Natural Earth 110 m land (TopoJSON, from the npm
// package world-atlas 2.0.2) into the polylines the web view draws as
// coastlines: src/view/assets/land.json.
//
//   node scripts/view/make-land.mjs [path/to/land-110m.json] > src/view/assets/land.json
//
// Without an argument it fetches the package with `npm pack world-atlas@2.0.2`
// into a temporary directory. No dependencies: the TopoJSON is decoded here
// (delta-decoded, dequantised arcs; negative indexes are reversed arcs; each
// arc after the first drops its first point). Coordinates are rounded to
// 0.01°, rings are split where they jump across the antimeridian, and the
// artificial cut along lon = ±180 (both ends on the seam) is dropped, so no
// polyline crosses the map.
//
// Natural Earth is public domain. world-atlas is ISC, Copyright 2013-2019
// Michael Bostock ("Permission to use, copy, modify, and/or distribute this
// software for any purpose with or without fee is hereby granted, provided
// that the above copyright notice and this permission notice appear in all
// copies.").

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const VERSION = '2.0.2';
const SOURCE = `Natural Earth 110m land via world-atlas ${VERSION} (public domain)`;

function fetchTopology() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'world-atlas-'));
  execFileSync('npm', ['pack', `world-atlas@${VERSION}`], { cwd: dir, stdio: 'ignore' });
  execFileSync('tar', ['xzf', `world-atlas-${VERSION}.tgz`], { cwd: dir });
  return path.join(dir, 'package', 'land-110m.json');
}

function decodeArcs(topo) {
  const t = topo.transform;
  return topo.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map((p) => {
      if (!t) return [p[0], p[1]];
      x += p[0];
      y += p[1];
      return [x * t.scale[0] + t.translate[0], y * t.scale[1] + t.translate[1]];
    });
  });
}

function rings(topo, name) {
  const arcs = decodeArcs(topo);
  const line = (idxs) => {
    const out = [];
    for (const i of idxs) {
      let a = i < 0 ? arcs[~i].slice().reverse() : arcs[i];
      if (out.length) a = a.slice(1);
      out.push(...a);
    }
    return out;
  };
  const found = [];
  const walk = (g) => {
    if (g.type === 'GeometryCollection') g.geometries.forEach(walk);
    else if (g.type === 'LineString') found.push(line(g.arcs));
    else if (g.type === 'MultiLineString' || g.type === 'Polygon') g.arcs.forEach((r) => found.push(line(r)));
    else if (g.type === 'MultiPolygon') g.arcs.forEach((p) => p.forEach((r) => found.push(line(r))));
  };
  walk(topo.objects[name]);
  return found;
}

const round = (v) => Math.round(v * 100) / 100;
const onSeam = (p) => Math.abs(Math.abs(p[0]) - 180) < 1e-6;

// Splits a ring into polylines that neither jump across the antimeridian nor
// run along the seam, with rounded coordinates and no repeated points.
function split(ring) {
  const out = [];
  let cur = [];
  const flush = () => {
    if (cur.length > 1) out.push(cur);
    cur = [];
  };
  for (let i = 0; i < ring.length; i++) {
    const p = [round(ring[i][0]), round(ring[i][1])];
    const q = i > 0 ? ring[i - 1] : null;
    if (q && (Math.abs(ring[i][0] - q[0]) > 180 || (onSeam(ring[i]) && onSeam(q)))) flush();
    const last = cur[cur.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) cur.push(p);
  }
  flush();
  return out;
}

const file = process.argv[2] ?? fetchTopology();
const topo = JSON.parse(fs.readFileSync(file, 'utf8'));
const lines = rings(topo, 'land').flatMap(split);
const body = lines.map((l) => JSON.stringify(l)).join(',\n');
process.stdout.write(`{"source": ${JSON.stringify(SOURCE)},\n"lines": [\n${body}\n]}\n`);
