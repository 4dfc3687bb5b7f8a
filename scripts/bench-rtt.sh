#!/usr/bin/env bash
# RTT error against geometry at several TDFs, on a 12-satellite ring at
# 800 km. Runs real satellite processes.
#   scripts/bench-rtt.sh
# Prints, per run: TDF, echoes received, measured RTT p50, geometric RTT p50,
# |error| p50 and p99 (virtual µs), the goal (1 % of the RTT + 50 µs), and
# the hosts' worst lateness (how far behind a satellite processed a frame).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=target/release/orbnet
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cat > "$TMP/ring-12.toml" <<'TOML'
name = "ring-12"
duration_s = 0.8
[constellation]
kind = "walker"
planes = 1
per_plane = 12
altitude_km = 800
inclination_deg = 53
[links]
rate_gbps = 10
max_range_km = 6000
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-6"
interval_ms = 20
count = 30
TOML

report() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
p = s["ping"][0]
rtt = p["rtt_ms"]["p50"]; geo = p["geometric_rtt_ms"]["p50"]
e50 = p["error_ms"]["p50"] * 1e3; e99 = p["error_ms"]["p99"] * 1e3
goal = rtt * 10 + 50  # µs: 1 % of the RTT (ms → µs ×1000 ×0.01) + 50 µs
print(f"{sys.argv[2]:<14} {sys.argv[3]:>6} {p['received']:>3}/{p['sent']:<3} {rtt:>12.6f} {geo:>12.6f} "
      f"{e50:>9.3f} {e99:>9.3f} {goal:>9.1f} {s['host']['late_max_us']:>10.1f} {s['host']['wall_s']:>7.1f}")
PY
}

printf '%-14s %6s %7s %12s %12s %9s %9s %9s %10s %7s\n' scenario TDF echoes "RTT p50 ms" "geo p50 ms" "err50 µs" "err99 µs" "goal µs" "late µs" "wall s"
for tdf in 1 10 100; do
  "$BIN" up "$TMP/ring-12.toml" --tdf "$tdf" --out "$TMP/ring-$tdf" >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; exit 1; }
  report "$TMP/ring-$tdf" ring-12 "$tdf"
done
