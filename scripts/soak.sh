#!/usr/bin/env bash
# Soak: a 12-satellite ring (topologies/ring-12.toml's geometry) runs, as
# one process per satellite, a ping for the whole run, a bulk transfer
# (QUIC and TCP in turn) and a ring all-reduce every PERIOD virtual
# seconds, and a link going down for a third of each period, round the
# ring. Every satellite process's resident memory (VmRSS) is sampled every
# second. The warm-up is one turn of the mix round the ring (12 periods, so
# every satellite has played every part once) or the first fifth of the
# run if longer; after it, memory must stay flat. A process's memory swings
# within a period by whatever the transfers in it hold (20 MB in flight
# through buffers), so flat is judged on its floor: for every process, the
# median over periods of the least memory seen in each period, after the
# warm-up at most 5 % above the same during it (a leak raises the floor;
# the peaks are printed beside it). (Give it 8 minutes or more: shorter
# runs have little time after the warm-up.) The run must pass (every
# transfer and collective verified, the ping answered) and its accounting
# balance.
#   scripts/soak.sh [MINUTES]      (10 by default)
# Prints the per-satellite memory figures, the workloads, the accounting,
# and one line `soak: ok` or the reason it failed (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-10}
PERIOD=${PERIOD:-20}
cargo build --release -q
BIN=${CARGO_TARGET_DIR:-target}/release/orbnet
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

python3 - "$MINUTES" "$PERIOD" > "$TMP/soak.toml" <<'PY'
import sys
minutes, period = float(sys.argv[1]), int(sys.argv[2])
duration = int(minutes * 60)
rounds = max(1, duration // period - 1)
print(f'''name = "soak-ring-12"
epoch = "2026-01-01T00:00:00Z"
seed = 1
tdf = 1
duration_s = {duration}

[constellation]
kind = "walker"
planes = 1
per_plane = 12
altitude_km = 800
inclination_deg = 53

[links]
pattern = "plus-grid"
rate_gbps = 1
mtu = 9000
max_range_km = 6000
acquisition_s = 0
ber = 1e-12

[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-6"
interval_ms = 500
count = {duration * 2 - 4}
timeout_s = 2
''')
for k in range(rounds):
    start = k * period + 1
    print(f'''[[workload]]
kind = "bulk"
from = "sat-{k % 12}"
to = "sat-{(k + 5) % 12}"
bytes = 20000000
transport = "{'quic' if k % 2 == 0 else 'tcp'}"
start_s = {start}
timeout_s = {period - 2}

[[workload]]
kind = "collective"
op = "allreduce"
min_bytes = 65536
max_bytes = 1048576
factor = 4
iterations = 2
ranks = 12
start_s = {start}
timeout_s = {period - 2}

[[fault]]
at_s = {start + 2}
kind = "link-down"
a = "sat-{(k + 2) % 12}"
b = "sat-{(k + 3) % 12}"
for_s = {period // 3}
''')
PY

"$BIN" up "$TMP/soak.toml" --out "$TMP/out" > "$TMP/up.log" 2>&1 &
UP=$!
: > "$TMP/rss"
while kill -0 "$UP" 2> /dev/null; do
  now=$(date +%s)
  for p in $(pgrep -P "$UP" || true); do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2> /dev/null || true)
    sat=$(tr '\0' ' ' < "/proc/$p/cmdline" 2> /dev/null | grep -o -- '--sat [0-9]*' || true)
    [ -n "$rss" ] && [ -n "$sat" ] && echo "$now ${sat#--sat } $rss" >> "$TMP/rss"
  done
  sleep 1
done
rc=0
wait "$UP" || rc=$?
# KEEP=DIR keeps the scenario, the memory samples and the results.
if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -r "$TMP"/. "$KEEP"/; fi
python3 - "$TMP/rss" "$TMP/out/summary.json" "$rc" "$PERIOD" <<'PY'
import json, sys
from collections import defaultdict
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
rc = int(sys.argv[3])
per = defaultdict(list)
for t, sat, kb in rows:
    per[int(sat)].append((int(t), int(kb)))
problems = []
if not rows:
    problems.append("no memory samples")
worst = float('-inf')
period = int(sys.argv[4])
print(f"{'sat':>4} {'samples':>7} {'floor warm-up MB':>17} {'floor after MB':>15} {'growth %':>9} "
      f"{'peak warm-up MB':>16} {'peak after MB':>14}")
def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]
for sat in sorted(per):
    s = sorted(per[sat])
    t0, t1 = s[0][0], s[-1][0]
    span = max(1, t1 - t0)
    end = t0 + max(0.2 * span, 12 * period + 5)
    floors = defaultdict(lambda: None)
    for t, kb in s:
        k = (t - t0) // period
        floors[k] = kb if floors[k] is None else min(floors[k], kb)
    # Whole periods only: the last may be cut short by the run's end.
    last = (t1 - t0) // period
    warm_f = [v for k, v in floors.items() if t0 + (k + 1) * period <= end]
    after_f = [v for k, v in floors.items() if t0 + k * period >= end and k < last]
    warm = [kb for t, kb in s if t < end]
    after = [kb for t, kb in s if t >= end]
    if not warm_f or not after_f:
        problems.append(f"sat-{sat}: too few samples")
        continue
    a, b = median(warm_f), median(after_f)
    g = 100.0 * (b - a) / a
    worst = max(worst, g)
    print(f"{sat:>4} {len(s):>7} {a / 1024:>17.1f} {b / 1024:>15.1f} {g:>9.2f} "
          f"{max(warm) / 1024:>16.1f} {max(after) / 1024:>14.1f}")
    if g > 5.0:
        problems.append(f"sat-{sat}: memory grew {g:.1f} %")
try:
    s = json.load(open(sys.argv[2]))
except (OSError, ValueError) as e:
    s = None
    problems.append(f"no summary.json: {e}")
if s:
    t = s["transfers"]
    c = s["collectives"]
    p = s["ping"][0]
    acc = s["accounting"]
    print(f"transfers verified {sum(x['verified'] for x in t)}/{len(t)}, "
          f"collectives verified {sum(x['verified'] for x in c)}/{len(c)}, "
          f"echoes {p['received']}/{p['sent']}, link changes {s['link_changes']}")
    print(f"accounting: balanced {acc['balanced']}, frames sent {acc['frames']['sent']}, "
          f"packets offered {acc['packets']['offered']}, delivered {acc['packets']['delivered']}, "
          f"dropped {sum(acc['packets']['dropped'].values())} {dict(acc['packets']['dropped'])}, "
          f"in flight {acc['packets']['in_flight']}, frames unaccounted {acc['frames']['unaccounted']}, "
          f"socket drops {acc['frames'].get('socket_drops')}")
    print(f"wall {s['host']['wall_s']:.0f} s, worst memory growth {worst:.2f} %")
    if not s["ok"]:
        problems.append(f"the run failed: {s.get('failure')}")
    if not acc["balanced"]:
        problems.append("the accounting does not balance")
if rc != 0:
    problems.append(f"orbnet up exited {rc}")
print("soak: " + ("ok" if not problems else "; ".join(problems)))
sys.exit(1 if problems else 0)
PY
