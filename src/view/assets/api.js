// api.js: the page's data sources, all same-origin: the JSON API
// (scenario, state at an instant, events, summary), the live Server-Sent
// Events stream, and the coastlines file. URLs are relative to the page.

const API = 'api/';

async function getJSON(url, { optional = false } = {}) {
  const res = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (optional && res.status === 404) return null;
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

/** GET /api/scenario: nodes, links and workloads of the run. */
export const getScenario = () => getJSON(`${API}scenario`);

/** GET /api/state?t=: positions, link states and routes at virtual time t. */
export const getState = (t) => getJSON(`${API}state?t=${encodeURIComponent(t.toFixed(3))}`);

/** GET /api/summary: the run's figures, or null while the run goes on (404). */
export const getSummary = () => getJSON(`${API}summary`, { optional: true });

/** GET /api/events?since=N, page after page until no more; returns the next index. */
export async function getAllEvents(since, onEvents) {
  for (let page = 0; page < 10000; page += 1) {
    const r = await getJSON(`${API}events?since=${since}`);
    const events = Array.isArray(r.events) ? r.events : [];
    if (events.length) onEvents(events);
    const next = Number.isFinite(r.next) ? r.next : since + events.length;
    if (!events.length || next <= since) return next;
    since = next;
  }
  return since;
}

/** The coastlines: {source, lines: [[[lon, lat], ...], ...]}. */
export const getLand = () => getJSON('land.json');

/**
 * Follows GET /api/live. Handlers: onState(state), onEvent(event, id) with id
 * the SSE id (the event's index, when the server gives one, else null),
 * onEnd() on an `end` message (then the stream is closed), onError().
 * Returns a function that closes the stream.
 */
export function followLive({ onState, onEvent, onEnd, onError }) {
  const es = new EventSource(`${API}live`);
  const parse = (m) => {
    try {
      return JSON.parse(m.data);
    } catch {
      return null;
    }
  };
  es.addEventListener('state', (m) => {
    const s = parse(m);
    if (s) onState(s);
  });
  es.addEventListener('event', (m) => {
    const e = parse(m);
    const id = m.lastEventId !== '' && Number.isFinite(Number(m.lastEventId)) ? Number(m.lastEventId) : null;
    if (e) onEvent(e, id);
  });
  es.addEventListener('end', () => {
    es.close();
    onEnd();
  });
  es.addEventListener('error', () => onError(es.readyState === EventSource.CLOSED));
  return () => es.close();
}
