#!/usr/bin/env bash
# Constellations at scale on this machine: satellites, harness, TDF, memory
# (in use over the whole run and private per satellite process), wall time
# per virtual second, echoes answered, RTT error against geometry and the
# worst lateness. Each run's ping is its scenario's own (across the shell
# for Starlink). Memory and CPU come from scripts/measure.py.
#   scripts/bench-scale.sh                 every row (phase 1 takes minutes)
#   ROWS="shell1-10 shell1-inproc" scripts/bench-scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=target/release/orbnet
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# name scenario harness tdf duration
ALL=(
  "suncatcher-81 topologies/suncatcher-81.toml processes 1000 0.005"
  "shell1-10 topologies/starlink-shell1.toml processes 10 2"
  "shell1-1 topologies/starlink-shell1.toml processes 1 10"
  "shell1-inproc topologies/starlink-shell1.toml in-process 1 10"
  "phase1-10 topologies/starlink-phase1.toml processes 10 2"
)
want() { [ -z "${ROWS:-}" ] || [[ " $ROWS " == *" $1 "* ]]; }

echo "| scenario | satellites | harness | TDF | exit | memory in use (GB) | private per process, median / max (MB) | wall per virtual s | echoes | \|error\| p50 / p99 (µs) | worst lateness (virtual ms) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${ALL[@]}"; do
  read -r name scenario harness tdf duration <<<"$row"
  want "$name" || continue
  flag=(--tdf "$tdf"); [ "$harness" = in-process ] && flag=(--in-process)
  set +e
  python3 scripts/measure.py "$TMP/m.json" -- "$BIN" up "$scenario" "${flag[@]}" --duration "$duration" \
    --out "$TMP/$name" --json >/dev/null 2>"$TMP/$name.err"
  set -e
  python3 - "$TMP/m.json" "$TMP/$name/summary.json" "$name" "$harness" "$tdf" "$duration" <<'PY'
import json, os, sys
m = json.load(open(sys.argv[1]))
name, harness, tdf, dur = sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])
s = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else None
pm = m["node_private_mb"]
priv = f"{pm['median']} / {pm['max']}" if pm["median"] is not None else "–"
if harness == "in-process":
    tdf = "–"
sats = s["satellites"] if s else "?"
echoes = err = late = "–"
if s and s["ping"]:
    p = s["ping"][0]
    echoes = f"{p['received']}/{p['sent']}"
    if p["received"]:
        err = f"{p['error_ms']['p50'] * 1e3:.1f} / {p['error_ms']['p99'] * 1e3:.1f}"
if s and harness == "processes":
    late = f"{s['host']['late_max_us'] / 1e3:.2f}"
print(f"| {name} | {sats} | {harness} | {tdf} | {m['exit']} | {m['mem_in_use_gb']} | {priv} "
      f"| {m['wall_s'] / dur:.2f} s | {echoes} | {err} | {late} |")
PY
done
