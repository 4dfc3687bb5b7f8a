#!/usr/bin/env bash
# Real tools against orbnet: tshark decodes a captured run (IP, UDP, TCP and
# QUIC), and iperf3 runs through TCP and UDP gateways at no more than the
# path's capacity. Installs tshark and iperf3 from Debian's packages when
# they are missing (needs root or sudo).
#   scripts/check-tools.sh
# Prints the protocol hierarchy of the capture and, per iperf3 run, the rate
# the receiver saw beside the path capacity; exits 1 if a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tshark > /dev/null || need+=(tshark)
command -v iperf3 > /dev/null || need+=(iperf3)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -q > /dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}" > /dev/null
fi
cargo build --release -q
BIN=$PWD/target/release/orbnet
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done # (orbnet up writes its results as it stops)
  rm -rf "$TMP"
}
trap cleanup EXIT
fail=0

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== capture: QUIC and TCP transfers and a ping on ring-8, --capture sat-0"
cat > "$TMP/capture.toml" <<'TOML'
name = "ring-8-capture"
tdf = 20
duration_s = 2
[constellation]
kind = "walker"
planes = 1
per_plane = 8
altitude_km = 1000
inclination_deg = 53
[links]
rate_gbps = 1
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-4"
count = 5
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-2"
bytes = 2000000
transport = "quic"
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-6"
bytes = 1000000
transport = "tcp"
TOML
"$BIN" up "$TMP/capture.toml" --capture sat-0 --out "$TMP/capture" > /dev/null 2>&1
PCAP="$TMP/capture/capture/sat-0.pcap"
tshark -r "$PCAP" -q -z io,phs 2> /dev/null | sed -n '/^raw/,/^=/p'
for proto in icmp tcp quic; do
  n=$(tshark -r "$PCAP" -Y "$proto" 2> /dev/null | wc -l)
  echo "  $proto packets decoded: $n"
  [ "$n" -gt 0 ] || { echo "  FAIL: no $proto decoded"; fail=1; }
done
# (head closes the pipe early; tshark's complaint about it is not a failure)
{ tshark -r "$PCAP" -Y quic 2> /dev/null || true; } | head -2 | sed 's/^/  /'

# A 12-satellite ring at 800 km, 200 Mb/s links; sat-0 → sat-4 is four hops.
# Gateways for TCP and UDP on the same ports (iperf3's UDP test also needs
# its TCP control connection).
GW=$(free_port)
SRV=$(free_port)
cat > "$TMP/gateway.toml" <<TOML
name = "ring-12-iperf3"
duration_s = 30
[constellation]
kind = "walker"
planes = 1
per_plane = 12
altitude_km = 800
inclination_deg = 53
[links]
rate_gbps = 0.2
[[gateway]]
satellite = "sat-0"
listen = "127.0.0.1:$GW"
to = "sat-4:5201"
[[gateway]]
satellite = "sat-4"
expose = "5201"
forward = "127.0.0.1:$SRV"
[[gateway]]
satellite = "sat-0"
listen = "127.0.0.1:$GW"
to = "sat-4:5201"
protocol = "udp"
[[gateway]]
satellite = "sat-4"
expose = "5201"
forward = "127.0.0.1:$SRV"
protocol = "udp"
TOML
iperf3 -s -p "$SRV" > /dev/null 2>&1 &
PIDS+=($!)
"$BIN" up "$TMP/gateway.toml" --out "$TMP/gateway" > /dev/null 2>&1 &
PIDS+=($!)
sleep 3

rate() { # iperf3 JSON → receiver's rate in Mb/s
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); e=j["end"]; s=e.get("sum_received") or e["sum"]; print(round(s["bits_per_second"]/1e6, 1))' "$1"
}
check() { # label json
  local r; r=$(rate "$2")
  local ok; ok=$(python3 -c "print('ok' if $r <= 200 * 1.01 else 'FAIL')")
  printf '  %-34s %8s Mb/s received; path capacity 200 Mb/s: %s\n' "$1" "$r" "$ok"
  [ "$ok" = ok ] || fail=1
}
echo "== iperf3 through the gateways (sat-0 → sat-4, 4 hops, 200 Mb/s links)"
iperf3 -c 127.0.0.1 -p "$GW" -t 5 -J > "$TMP/tcp.json"
check "TCP, 5 s" "$TMP/tcp.json"
iperf3 -c 127.0.0.1 -p "$GW" -t 5 -u -b 400M -l 1400 -J > "$TMP/udp.json"
check "UDP offered at 400 Mb/s, 5 s" "$TMP/udp.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["end"]["sum"]; print("  UDP lost %.1f %% of %d datagrams, jitter %.3f ms" % (s["lost_percent"], s["packets"], s["jitter_ms"]))' "$TMP/udp.json"
exit $fail
