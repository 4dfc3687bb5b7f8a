#!/usr/bin/env bash
# The ground segment on Starlink shell 1 (1,584 satellites at 550 km, 53°):
# 1. RTT London → New York (topologies/starlink-cities.toml's stations and
#    ground links), one ping every 200 ms for DURATION virtual seconds
#    through satellite processes, against the geometric RTT computed from
#    the orbits (the reference beside it: same instants, same routes,
#    propagation only). Prints the RTT and |error| p50 / p99.
# 2. What 100 ground stations cost: shell 1 alone and with 100 stations
#    (a grid over ±53° of latitude), in-process and as processes: wall and
#    CPU time, memory in use (scripts/measure.py).
#   scripts/bench-ground.sh                   (DURATION=600 TDF=1)
#   DURATION=60 TDF=10 scripts/bench-ground.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=target/release/orbnet
DURATION=${DURATION:-600}
TDF=${TDF:-1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# 1. City-pair RTT: starlink-cities without its workloads, one long ping.
sed '/^\[\[workload\]\]/,$d' topologies/starlink-cities.toml > "$TMP/cities.toml"
count=$(python3 -c "print(int($DURATION * 5) - 5)")
cat >> "$TMP/cities.toml" <<TOML
[[workload]]
kind = "ping"
from = "london"
to = "new-york"
interval_ms = 200
count = $count
TOML
"$BIN" up "$TMP/cities.toml" --tdf "$TDF" --duration "$DURATION" --out "$TMP/cities" --json >/dev/null 2>"$TMP/err" \
  || { tail -5 "$TMP/err"; exit 1; }
python3 - "$TMP/cities/summary.json" "$TDF" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); p = s["ping"][0]
r, g, e = p["rtt_ms"], p["geometric_rtt_ms"], p["error_ms"]
print(f"## London → New York over shell 1, {s['duration_s']:.0f} s virtual at TDF {sys.argv[2]}, processes")
print("| echoes | RTT p50 / p99 (ms) | geometric p50 / p99 (ms) | |error| p50 / p99 (ms) | worst lateness (virtual ms) | wall (s) |")
print("|---|---|---|---|---|---|")
print(f"| {p['received']}/{p['sent']} | {r['p50']:.3f} / {r['p99']:.3f} | {g['p50']:.3f} / {g['p99']:.3f} "
      f"| {e['p50']:.4f} / {e['p99']:.3f} | {s['host']['late_max_us'] / 1e3:.1f} | {s['host']['wall_s']:.0f} |")
PY

# 2. 100 stations: a 10 × 10 grid, latitudes −49.5° … 49.5°, longitudes
# every 36° (shifted per row so stations do not line up in longitude).
python3 - > "$TMP/stations.csv" <<'PY'
print("name,lat_deg,lon_deg,alt_m")
for i in range(10):
    for j in range(10):
        print(f"grid-{i}-{j},{-49.5 + 11 * i:.1f},{(-180 + 36 * j + 3.6 * i) % 360 - 180:.1f},0")
PY
base() {  # scenario with or without stations
  sed '/^\[ground\]/,$d' topologies/starlink-cities.toml | sed 's/^tdf = .*/tdf = 10/'
  cat <<'TOML'
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-803"
interval_ms = 200
count = 5
TOML
}
base > "$TMP/shell.toml"
{ base; sed -n '/^\[ground\]/,/^\[\[ground_station\]\]/p' topologies/starlink-cities.toml | sed '$d'
  echo 'stations = "stations.csv"'; } > "$TMP/stations.toml"
echo
echo "## 100 ground stations on shell 1, 2 s virtual"
echo "| run | nodes | harness | wall (s) | CPU (s) | memory in use (GB) | private per process, median (MB) |"
echo "|---|---|---|---|---|---|---|"
for sc in shell stations; do
  for h in in-process processes; do
    flag=(); [ "$h" = in-process ] && flag=(--in-process)
    python3 scripts/measure.py "$TMP/m.json" -- "$BIN" up "$TMP/$sc.toml" --duration 2 "${flag[@]}" \
      --out "$TMP/$sc-$h" --json >/dev/null 2>>"$TMP/err"
    python3 - "$TMP/m.json" "$TMP/$sc-$h/summary.json" "$sc" "$h" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
n = s["satellites"] + s.get("ground_stations", 0)
pm = m["node_private_mb"]["median"]
print(f"| {sys.argv[3]} | {n} | {sys.argv[4]} | {m['wall_s']} | {m['cpu_s']} | {m['mem_in_use_gb']} "
      f"| {pm if pm is not None else '–'} |")
PY
  done
done
