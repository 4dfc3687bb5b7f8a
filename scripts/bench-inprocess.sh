#!/usr/bin/env bash
# Virtual seconds per wall second of the in-process harness (`orbnet up
# --in-process`): ping across ring-8 for 60 virtual seconds and across
# starlink-shell1 (1584 satellites) for 10, beside the process harness on
# ring-8 for 10 virtual seconds (TDF 1: one virtual second per wall second
# by construction, measured here as the baseline).
#   scripts/bench-inprocess.sh
# Prints, per run: harness, satellites, virtual seconds, wall seconds, their
# ratio, echoes received and the ping p50 RTT (the same in both harnesses).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=target/release/orbnet
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The shipped scenarios, with pings for the whole duration.
sed -e 's/^duration_s = .*/duration_s = 60/' -e 's/^count = .*/count = 300/' \
  topologies/ring-8.toml > "$TMP/ring-8-60.toml"
sed -e 's/^duration_s = .*/duration_s = 10/' -e 's/^count = .*/count = 50/' \
  topologies/ring-8.toml > "$TMP/ring-8-10.toml"
sed -e 's/^duration_s = .*/duration_s = 10/' -e 's/^count = .*/count = 50/' \
  topologies/starlink-shell1.toml | sed -e "s/^count = .*/count = 48/" > "$TMP/starlink-shell1-10.toml"

run() { # label scenario args...
  local label=$1 file=$2; shift 2
  local out="$TMP/$label"
  "$BIN" up "$file" --out "$out" "$@" > /dev/null 2> "$TMP/$label.err" || {
    cat "$TMP/$label.err"; exit 1; }
  python3 - "$out" "$label" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
p = s["ping"][0]
virt, wall = s["duration_s"], s["host"]["wall_s"]
print(f"{sys.argv[2]:<34} {s['harness']:<11} {s['satellites']:>5} {virt:>8.1f} {wall:>9.2f} "
      f"{virt / wall:>10.1f} {p['received']:>4}/{p['sent']:<4} {p['rtt_ms']['p50']:>10.3f}")
PY
}

printf '%-34s %-11s %5s %8s %9s %10s %9s %10s\n' run harness sats virt_s wall_s virt/wall echoes rtt_p50_ms
run "ring-8 ping, 10 s (baseline)" "$TMP/ring-8-10.toml"
run "ring-8 ping, 10 s" "$TMP/ring-8-10.toml" --in-process
run "ring-8 ping, 60 s" "$TMP/ring-8-60.toml" --in-process
run "starlink-shell1 ping, 10 s" "$TMP/starlink-shell1-10.toml" --in-process
