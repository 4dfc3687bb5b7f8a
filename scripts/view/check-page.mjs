// check-page.mjs: loads the web view in headless Chromium, waits for
// body[data-ready="1"], checks the drawn map against the API (one
// circle.node.satellite per satellite, one line.link per link that is up or
// acquiring in the state for the shown instant, same data-ids), that no
// script error and no Content-Security-Policy violation happened, and saves
// a screenshot. Needs node 20+ (run with --experimental-websocket before 22).
//
//   node --experimental-websocket scripts/view/check-page.mjs URL [out.png] [1280x800] [extra wait ms]

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [url = 'http://127.0.0.1:8765/', out = '/tmp/view.png', size = '1280x800', extraMs = '0'] = process.argv.slice(2);
const [width, height] = size.split('x').map(Number);

function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'view-chrome-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', `--user-data-dir=${dir}`, '--remote-debugging-port=0', 'about:blank'];
  const proc = spawn(process.env.CHROMIUM ?? 'chromium', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/DevTools listening on (ws:\S+)/);
      if (m) resolve({ proc, ws: m[1] });
    });
    proc.on('exit', () => reject(new Error(`chromium exited: ${err.slice(-500)}`)));
  });
}

function connect(wsUrl) {
  const ws = new WebSocket(wsUrl);
  let id = 0;
  const waiting = new Map();
  const listeners = [];
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error)));
      else resolve(msg.result);
    } else listeners.forEach((f) => f(msg));
  };
  const send = (method, params = {}, sessionId = undefined) => new Promise((resolve, reject) => {
    id += 1;
    waiting.set(id, { resolve, reject });
    ws.send(JSON.stringify({ id, method, params, sessionId }));
  });
  return new Promise((resolve) => { ws.onopen = () => resolve({ ws, send, on: (f) => listeners.push(f) }); });
}

const CHECK = `(async () => {
  const sc = await (await fetch('api/scenario')).json();
  const t = Number(document.getElementById('time').value);
  const st = await (await fetch('api/state?t=' + t.toFixed(3))).json();
  const ids = (sel) => [...document.querySelectorAll(sel)].map((e) => e.dataset.id).sort();
  const want = (xs) => xs.map(String).sort();
  const sats = want(sc.nodes.filter((n) => n.kind === 'satellite').map((n) => n.id));
  const live = want(st.links.filter((l) => l.state === 'up' || l.state === 'acquiring').map((l) => l.id));
  return {
    t, ready: document.body.dataset.ready, error: document.body.dataset.error ?? null,
    csp: Number(document.body.dataset.cspViolations ?? 0),
    satellites: ids('circle.node.satellite').length, satellitesMatch: JSON.stringify(ids('circle.node.satellite')) === JSON.stringify(sats),
    ground: ids('rect.node.ground').length,
    links: ids('line.link').length, linksWanted: live.length,
    routes: document.querySelectorAll('polyline.route').length,
    logEntries: document.querySelectorAll('#log li[data-kind]').length,
  };
})()`;

async function main() {
  const { proc, ws } = await launch();
  const cdp = await connect(ws);
  const errors = [];
  try {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    const s = (m, p) => cdp.send(m, p, sessionId);
    cdp.on((msg) => {
      if (msg.method === 'Runtime.exceptionThrown') errors.push(msg.params.exceptionDetails.exception?.description ?? msg.params.exceptionDetails.text);
      if (msg.method === 'Runtime.consoleAPICalled' && msg.params.type === 'error') errors.push(msg.params.args.map((a) => a.value ?? a.description).join(' '));
    });
    await s('Runtime.enable');
    await s('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    await s('Page.navigate', { url });
    const evaluate = async (expr) => (await s('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true })).result.value;
    const start = Date.now();
    while ((await evaluate('document.body?.dataset.ready ?? null')) !== '1') {
      if (Date.now() - start > 15000) throw new Error(`not ready after 15 s; body error: ${await evaluate('document.body?.dataset.error ?? null')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500 + Number(extraMs)));
    const result = await evaluate(CHECK);
    const shot = await s('Page.captureScreenshot', { format: 'png' });
    fs.writeFileSync(out, Buffer.from(shot.data, 'base64'));
    const ok = result.satellitesMatch && result.links === result.linksWanted && !result.csp && !errors.length;
    console.log(JSON.stringify({ ...result, errors, screenshot: out, ok }, null, 1));
    process.exitCode = ok ? 0 : 1;
  } finally {
    cdp.ws.close();
    proc.kill();
  }
}

main().catch((e) => {
  console.error(e.message);
  process.exit(2);
});
