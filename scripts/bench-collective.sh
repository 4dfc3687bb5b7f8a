#!/usr/bin/env bash
# All-reduce sweeps over the shipped constellations: bus bandwidth against
# the slowest link the ring uses, and measured time against the α–β model
# 2(p−1)α + 2(p−1)/p·n/B computed from the same link snapshot.
#   scripts/bench-collective.sh [--in-process] [topology …]
#   (default: three-body-12 suncatcher-81)
# suncatcher-81 runs 81 processes at TDF 50000: a few minutes of wall time;
# --in-process runs every satellite as a task on simulated time instead
# (no host lateness; suncatcher-81 in about half a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=target/release/orbnet
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ARGS=()
if [ "${1:-}" = --in-process ]; then ARGS=(--in-process); shift; fi
[ $# -eq 0 ] && set -- three-body-12 suncatcher-81
for topo in "$@"; do
  echo "== $topo =="
  start=$(date +%s)
  "$BIN" up "topologies/$topo.toml" --out "$TMP/$topo" "${ARGS[@]}" >/dev/null 2>"$TMP/err" || { tail -3 "$TMP/err"; }
  echo "wall $(( $(date +%s) - start )) s"
  python3 - "$TMP/$topo/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"TDF {s['tdf']}, host lateness max {s['host']['late_max_us']:.1f} µs")
print(f"{'op':<10}{'ranks':>6}{'bytes':>11}{'time µs':>11}{'busbw Gb/s':>12}{'link Gb/s':>11}{'bus/link':>9}{'B Gb/s':>9}{'model µs':>11}{'meas/model':>11}  verified")
for c in s["collectives"]:
    t = c["time_s"]; b = c["busbw_gbps"]; l = c["link_rate_gbps"]; m = c["model_time_s"]
    f = lambda v, k=1, p=1: "-" if v is None else f"{v*k:.{p}f}"
    print(f"{c['op']:<10}{c['ranks']:>6}{c['bytes']:>11}{f(t,1e6):>11}{f(b):>12}{f(l,1,0):>11}"
          f"{'-' if b is None else f'{b/l:.1%}':>9}{f(c.get('model_rate_gbps'),1,0):>9}{f(m,1e6):>11}{f(c['model_ratio'],1,2):>11}  {c['verified']}")
for t in s["train"]:
    f = lambda v, k=1, p=3: "-" if v is None else f"{v*k:.{p}f}"
    print(f"train: {t['ranks']} ranks, {t['params']:.3g} params: step {f(t['step_time_s'],1e3)} ms, "
          f"compute {f(t['compute_time_s'],1e3)} ms, exposed comm {f(t['exposed_comm_s'],1e3)} ms, "
          f"{f(t['tokens_per_s'],1,0)} tokens/s, utilisation {f(t['effective_utilization'],100,1)} %, verified {t['verified']}")
PY
done
