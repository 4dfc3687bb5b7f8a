#!/usr/bin/env bash
# Bulk transfers over the two extremes of space paths, under a TDF this
# machine can carry (two cores):
# 1. Ocean scale: one Starlink plane (22 at 550 km, 100 Gb/s lasers),
#    sat-0 → sat-7: 7 hops of 1972 km, 13 800 km, 46 ms one way (about the
#    London–Sydney great circle is 17 000 km). TDF 500: every one of the
#    seven forwarding satellites moves 0.2 Gb/s of host traffic at line
#    rate. 500 MB.
# 2. A Suncatcher pair: two formation satellites 100 m apart at 1.6 Tb/s.
#    TDF 1000: 1.6 Gb/s of host traffic at line rate.
# Prints goodput (virtual) as a share of the path capacity, and the host's
# lateness (how far the emulation fell behind; small means faithful).
#   scripts/bench-long-paths.sh      (OCEAN="quic:cubic" PAIR="" to run a subset)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=target/release/orbnet
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

report() {  # label out-dir
  python3 - "$1" "$2/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[2])); t = s["transfers"][0]
g = t["goodput_gbps"] or t["received"] * 8 / s["duration_s"] / 1e9
print(f"{sys.argv[1]:<34} {g:9.2f} Gb/s of {t['path_capacity_gbps']:7.0f}  {g / t['path_capacity_gbps']:6.1%}"
      f"  {t['seconds'] or float('nan'):.4f} s  verified={t['verified']}  lateness {s['host']['late_max_us']:.0f} µs  wall {s['host']['wall_s']:.0f} s")
PY
}

for t in ${OCEAN-quic:cubic quic:bbr tcp:cubic}; do
  tr=${t%%:*}; cc=${t##*:}
  cat > "$TMP/ocean.toml" <<TOML
name = "ocean"
tdf = 500
duration_s = 1.5
[constellation]
kind = "walker"
planes = 1
per_plane = 22
altitude_km = 550
inclination_deg = 53
[links]
rate_gbps = 100
max_range_km = 5400
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-7"
bytes = 500000000
transport = "$tr"
cc = "$cc"
TOML
  "$BIN" up "$TMP/ocean.toml" --out "$TMP/ocean-$t" >/dev/null 2>&1 || true
  report "starlink 7 hops, 46 ms, $tr/$cc" "$TMP/ocean-$t"
done

for tr in ${PAIR-quic tcp}; do
  cat > "$TMP/pair.toml" <<TOML
name = "suncatcher-pair"
tdf = 1000
duration_s = 0.05
[constellation]
kind = "formation"
count = 2
altitude_km = 650
[links]
pattern = "nearest"
k = 1
rate_gbps = 1600
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-1"
bytes = 2000000000
transport = "$tr"
TOML
  "$BIN" up "$TMP/pair.toml" --out "$TMP/pair-$tr" >/dev/null 2>&1 || true
  report "suncatcher pair, 100 m, $tr" "$TMP/pair-$tr"
done
