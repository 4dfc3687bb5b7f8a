// log.js: the event log panel: crashes, restarts, link changes, handovers
// and transfer ends up to the shown instant, newest first, at most 200.

import { html } from './dom.js';

const CAP = 200;

export class EventLog {
  constructor(listEl, countEl, store) {
    this.list = listEl;
    this.count = countEl;
    this.store = store;
    this.key = '';
  }

  /** Shows the entries at or before virtual time t (all of them when t is Infinity). */
  render(t) {
    const log = this.store.log;
    let n = 0;
    while (n < log.length && log[n].t <= t + 1e-9) n += 1;
    const key = `${n}/${log.length}/${this.store.version}`;
    if (key === this.key) return;
    this.key = key;
    const shown = log.slice(Math.max(0, n - CAP), n).reverse();
    this.list.replaceChildren(...shown.map(item));
    this.count.textContent = n > CAP ? `latest ${CAP} of ${n}` : `${n}`;
    if (!n) this.list.append(html('li', { class: 'empty' }, 'Nothing yet'));
  }
}

function item(e) {
  const li = html('li', { 'data-kind': e.kind });
  html('time', {}, `${e.t.toFixed(1)} s`, li);
  html('span', {}, e.text, li);
  return li;
}
