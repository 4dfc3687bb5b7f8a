#!/usr/bin/env python3
"""serve-fixtures.py: serves orbnet's web view (src/view/assets) with its API
answered from the fixtures (src/view/fixtures), on 127.0.0.1 only, with the
same Content-Security-Policy as the real server, for trying the page in a
browser or a headless test.

    python3 scripts/view/serve-fixtures.py [--port 8765] [--live] [--rate 20]

Replay (default): /api/scenario, /api/state?t= (the latest fixture state at
or before t, its t_s set to t), /api/events?since=N, /api/summary; /api/live
is 404. --no-summary answers /api/summary with 404 (a run still going);
--fixtures DIR serves another folder of the same files.

--live: the scenario says "live": true and a virtual clock runs from the
server's start at --rate virtual seconds per wall second. /api/live streams
Server-Sent Events (`state` twice a second, `event` with `id: <index>` for
each event up to the clock), /api/events only gives events up to the clock,
/api/summary is 404 until the run's end, and the stream ends with `end`.
"""

import argparse
import http.server
import json
import pathlib
import re
import socketserver
import sys
import time
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parents[2]
ASSETS = ROOT / "src" / "view" / "assets"
FIXTURES = ROOT / "src" / "view" / "fixtures"
CSP = "default-src 'self'"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}


def event_time(e):
    """The virtual instant an event happened at (None: at the run's end)."""
    for key in ("t_s", "sent_s", "completed_s"):
        if e.get(key) is not None:
            return e[key]
    return None


class Fixtures:
    def __init__(self, args):
        self.args = args
        self.dir = pathlib.Path(args.fixtures)
        self.scenario = self.load("scenario.json")
        self.scenario["live"] = bool(args.live)
        self.events = self.load("events.json")["events"]
        self.summary = self.load("summary.json")
        self.states = sorted(
            (int(m.group(1)), p.name)
            for p in self.dir.glob("state-*.json")
            if (m := re.fullmatch(r"state-(\d+)\.json", p.name))
        )
        self.started = time.monotonic()

    def load(self, name):
        return json.loads((self.dir / name).read_text())

    def duration(self):
        return float(self.scenario["duration_s"])

    def clock(self):
        """The run's virtual time (live), capped at its duration."""
        return min(self.duration(), (time.monotonic() - self.started) * self.args.rate)

    def state(self, t):
        name = self.states[0][1]
        for at, n in self.states:
            if at <= t + 1e-9:
                name = n
        s = self.load(name)
        s["t_s"] = t
        return s

    def released(self, t):
        """How many events (a prefix) have happened by virtual time t."""
        if not self.args.live or t >= self.duration():
            return len(self.events)
        n = 0
        for e in self.events:
            et = event_time(e)
            if et is None or et > t:
                break
            n += 1
        return n


class Handler(http.server.BaseHTTPRequestHandler):
    fx: Fixtures = None

    def log_message(self, fmt, *args):
        if self.fx.args.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def send_body(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, value, status=200):
        self.send_body(status, json.dumps(value).encode(), "application/json")

    def not_found(self):
        self.send_body(404, b"not found\n", "text/plain; charset=utf-8")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path.startswith("/api/"):
            return self.api(url.path[5:], query)
        return self.asset(url.path)

    def asset(self, path):
        name = "index.html" if path == "/" else path.lstrip("/")
        file = (ASSETS / name).resolve()
        if ASSETS not in file.parents or not file.is_file():
            return self.not_found()
        self.send_body(200, file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream"))

    def api(self, what, query):
        fx = self.fx
        now = fx.clock() if fx.args.live else fx.duration()
        if what == "scenario":
            return self.send_json(fx.scenario)
        if what == "state":
            t = float(query.get("t", ["0"])[0])
            return self.send_json(fx.state(t))
        if what == "events":
            since = int(query.get("since", ["0"])[0])
            n = fx.released(now)
            return self.send_json({"next": max(n, since), "events": fx.events[since:n]})
        if what == "summary":
            done = not fx.args.live or now >= fx.duration()
            if fx.args.no_summary or not done:
                return self.send_json({"error": "the run is still going"}, 404)
            return self.send_json(fx.summary)
        if what == "live" and fx.args.live:
            return self.live()
        return self.not_found()

    def sse(self, event, data, ident=None):
        head = f"id: {ident}\n" if ident is not None else ""
        self.wfile.write(f"{head}event: {event}\ndata: {json.dumps(data)}\n\n".encode())

    def live(self):
        fx = self.fx
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        sent = fx.released(fx.clock())
        try:
            while True:
                t = fx.clock()
                n = fx.released(t)
                for i in range(sent, n):
                    self.sse("event", fx.events[i], i)
                sent = n
                self.sse("state", fx.state(t))
                self.wfile.flush()
                if t >= fx.duration():
                    self.sse("end", {"t_s": t})
                    self.wfile.flush()
                    return
                time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            return


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--live", action="store_true", help="act as a live run with SSE")
    p.add_argument("--rate", type=float, default=20.0, help="live: virtual seconds per wall second")
    p.add_argument("--no-summary", action="store_true", help="answer /api/summary with 404")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.add_argument("--fixtures", default=str(FIXTURES), help="folder of fixture files (default: %(default)s)")
    args = p.parse_args()
    Handler.fx = Fixtures(args)
    with Server(("127.0.0.1", args.port), Handler) as httpd:
        print(f"serving {ASSETS} on http://127.0.0.1:{args.port}/ ({'live' if args.live else 'replay'})", flush=True)
        httpd.serve_forever()


if __name__ == "__main__":
    main()
