// time.js: the time bar and the virtual clock. Replay: a slider over
// [0, duration], play/pause and a speed (virtual seconds per wall second)
// move the shown instant, and a StateFetcher asks /api/state for it at a
// throttled pace. Live: the slider only shows the run's progress.

import { fmtDuration, fmtInstant } from './dom.js';

export const SPEEDS = [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64];

export class TimeBar {
  /** els: {play, slider, clock, instant, speed}; onTime(t) is called whenever the shown instant moves. */
  constructor(els, scenario, onTime) {
    this.els = els;
    this.duration = Math.max(0, Number(scenario.duration_s) || 0);
    this.epoch = scenario.epoch;
    this.onTime = onTime;
    this.t = 0;
    this.speed = 1;
    this.playing = false;
    this.live = false;
    this.setup();
  }

  setup() {
    const { play, slider, speed } = this.els;
    slider.max = String(this.duration);
    slider.step = 'any';
    slider.addEventListener('keydown', (e) => this.key(e));
    speed.replaceChildren(...SPEEDS.map((s) => new Option(`×${s}`, String(s), s === 1, s === 1)));
    play.addEventListener('click', () => this.toggle());
    slider.addEventListener('input', () => this.seek(Number(slider.value)));
    speed.addEventListener('change', () => { this.speed = Number(speed.value); });
    document.addEventListener('keydown', (e) => {
      if (e.key === ' ' && e.target === document.body) {
        e.preventDefault();
        this.toggle();
      }
    });
    this.show();
  }

  /** Slider keys: arrows move 0.5 % of the run, Page Up/Down 5 %, Home/End to either end. */
  key(e) {
    const d = this.duration;
    const to = {
      ArrowRight: this.t + d / 200, ArrowUp: this.t + d / 200, ArrowLeft: this.t - d / 200, ArrowDown: this.t - d / 200,
      PageUp: this.t + d / 20, PageDown: this.t - d / 20, Home: 0, End: d,
    }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    this.seek(to);
  }

  /** Live mode: the run drives the clock; the controls only show it. */
  setLive() {
    this.live = true;
    this.pause();
    for (const k of ['play', 'slider', 'speed']) this.els[k].disabled = true;
    this.show();
  }

  toggle() {
    if (this.live) return;
    if (this.playing) this.pause();
    else this.play();
  }

  play() {
    if (this.t >= this.duration) this.seek(0);
    this.playing = true;
    this.wall = performance.now();
    this.showButton();
    requestAnimationFrame((now) => this.tick(now));
  }

  pause() {
    this.playing = false;
    this.showButton();
  }

  tick(now) {
    if (!this.playing) return;
    const dt = Math.max(0, (now - this.wall) / 1000);
    this.wall = now;
    this.seek(Math.min(this.duration, this.t + dt * this.speed));
    if (this.t >= this.duration) this.pause();
    else requestAnimationFrame((n) => this.tick(n));
  }

  /** Moves the shown instant (replay) and tells onTime. */
  seek(t) {
    this.t = Math.max(0, Math.min(this.duration, t));
    this.show();
    this.onTime(this.t);
  }

  /** Live: the run reached virtual time t. */
  progress(t) {
    this.t = t;
    this.show();
    this.onTime(t);
  }

  show() {
    const { slider, clock } = this.els;
    slider.value = String(this.t);
    const text = `${fmtDuration(this.t)} of ${fmtDuration(this.duration)}`;
    slider.setAttribute('aria-valuetext', text);
    clock.textContent = `${this.live ? 'live · ' : ''}t = ${text}`;
    clock.title = fmtInstant(this.epoch, this.t);
    this.els.instant.textContent = fmtInstant(this.epoch, this.t);
  }

  showButton() {
    const { play } = this.els;
    play.textContent = this.playing ? '❚❚ Pause' : '▶ Play';
    play.setAttribute('aria-pressed', String(this.playing));
  }
}

/**
 * Fetches states for wanted instants, one request at a time and at most one
 * every minGapMs: while a request is on its way, only the latest instant
 * wanted since is kept, and it is fetched next.
 */
export class StateFetcher {
  constructor(fetchState, onState, onError, minGapMs = 120) {
    Object.assign(this, { fetchState, onState, onError, minGapMs });
    this.wanted = null;
    this.busy = false;
    this.lastStart = -Infinity;
    this.lastT = null;
    this.timer = 0;
  }

  want(t) {
    this.wanted = t;
    this.pump();
  }

  async pump() {
    if (this.busy || this.wanted === null || this.timer) return;
    if (this.wanted === this.lastT) {
      this.wanted = null;
      return;
    }
    const wait = this.lastStart + this.minGapMs - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => { this.timer = 0; this.pump(); }, wait);
      return;
    }
    const t = this.wanted;
    this.wanted = null;
    this.busy = true;
    this.lastStart = performance.now();
    try {
      const s = await this.fetchState(t);
      this.lastT = t;
      this.onState(s);
    } catch (e) {
      this.onError(e);
    } finally {
      this.busy = false;
      this.pump();
    }
  }
}
