#!/usr/bin/env bash
# Filling a long path: topologies/ring-12.toml, sat-0 → sat-6 (six 1 Gb/s
# hops at 800 km, 148.7 ms of round trip, default queues), as satellite
# processes at TDF 1 (real time), for SECONDS (default 30):
# 1. a TCP bulk transfer (CUBIC) and a QUIC one (CUBIC): goodput over the
#    transfer against the path capacity;
# 2. iperf3 through a TCP gateway pair (sat-0 listens on loopback, sat-6
#    forwards to an iperf3 server on loopback) against the same capacity,
#    and, as the baseline in the same run, iperf3 over the kernel's
#    loopback alone.
# At TDF (default 1) the emulated path runs TDF times slower than real
# time, and so does what iperf3 measures through it: its figure is scaled
# back by TDF (a 1 Gb/s path carries at most 1/TDF Gb/s of wall-clock
# bytes). A TDF above 1 leaves the host time to spare, so that the
# lateness of satellite processes on a busy machine does not stand in
# for the transport's behaviour.
#   scripts/bench-long-tcp.sh [SECONDS]
#   TDF=2 scripts/bench-long-tcp.sh 30
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-30}
TDF=${TDF:-1}
command -v iperf3 > /dev/null || { echo "iperf3 is needed (scripts/check-tools.sh installs it)"; exit 2; }
cargo build --release -q
BIN=target/release/orbnet
TMP=$(mktemp -d)
PIDS=()
# The gateway run writes its results as it stops: wait for it (and the
# iperf3 servers) before removing the folder it writes to.
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# Bytes for SECONDS at 90 % of the path rate, so that a transfer near the
# goal finishes (and is verified) within the run; its goodput is then over
# the transfer itself.
bytes=$(python3 -c "print(int(${SECONDS_RUN} * 0.9e9 / 8))")
scenario() {  # transport
  sed '/^\[\[workload\]\]/,$d' topologies/ring-12.toml
  cat <<TOML
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-6"
transport = "$1"
bytes = $bytes
TOML
}
echo "TDF $TDF"
echo "| path | transport | goodput (Gb/s) | of capacity | verified | worst lateness (virtual ms) |"
echo "|---|---|---|---|---|---|"
for tr in tcp quic; do
  scenario "$tr" > "$TMP/$tr.toml"
  "$BIN" up "$TMP/$tr.toml" --tdf "$TDF" --duration "$((SECONDS_RUN * 3 / 2 + 5))" --out "$TMP/$tr" --json > /dev/null 2> "$TMP/$tr.err" || true
  python3 - "$TMP/$tr/summary.json" "$tr" "$SECONDS_RUN" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); t = s["transfers"][0]
# An unfinished transfer: what arrived over the run (the rate is then a
# lower bound, the transfer having started at 0).
secs = t["seconds"] or s["duration_s"]
g = t["goodput_gbps"] or t["received"] * 8 / secs / 1e9
cap = t["path_capacity_gbps"]
print(f"| ring-12 sat-0 → sat-6 | {sys.argv[2]} | {g:.3f} | {g / cap:.1%} | {t['verified']} | {s['host']['late_max_us'] / 1e3:.2f} |")
PY
done

# iperf3 through a TCP gateway pair, and over loopback alone.
port=$((20000 + RANDOM % 20000))
iperf3 -s -p "$port" > /dev/null 2>&1 & PIDS+=($!)
sed -e '/^\[\[workload\]\]/,$d' -e "s/^duration_s = .*/duration_s = $((SECONDS_RUN + 15))/" \
  topologies/ring-12.toml > "$TMP/gw.toml"
cat >> "$TMP/gw.toml" <<TOML
[[gateway]]
satellite = "sat-0"
listen = "127.0.0.1:$((port + 1))"
to = "sat-6:5201"
[[gateway]]
satellite = "sat-6"
expose = "5201"
forward = "127.0.0.1:$port"
TOML
"$BIN" up "$TMP/gw.toml" --tdf "$TDF" --out "$TMP/gw" > /dev/null 2>&1 & PIDS+=($!)
# Wait for sat-0's gateway to listen (without connecting to it).
for _ in $(seq 300); do ss -ltnH "sport = :$((port + 1))" | grep -q . && break; sleep 0.1; done
sleep 1
gw=$(iperf3 -c 127.0.0.1 -p $((port + 1)) -t "$SECONDS_RUN" -J | python3 -c "import json,sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'] * $TDF / 1e9)")
base_port=$((port + 2))
iperf3 -s -p "$base_port" > /dev/null 2>&1 & PIDS+=($!)
sleep 0.5
base=$(iperf3 -c 127.0.0.1 -p "$base_port" -t 5 -J | python3 -c "import json,sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'] / 1e9)")
# The path's capacity is ring-12's link rate, 1 Gb/s.
printf '| ring-12 sat-0 → sat-6 | iperf3 through TCP gateways | %.3f | %.1f%% | – | – |\n' "$gw" "$(python3 -c "print($gw * 100)")"
printf '| kernel loopback (baseline, same run) | iperf3 | %.3f | – | – | – |\n' "$base"
