#!/usr/bin/env bash
# Transport benchmarks, with host baselines measured in the same run.
#   scripts/bench-transport.sh
# 1. Data plane: two satellites 100 m apart on one lossless 400 Gb/s link
#    (so the emulator, not the link, is the limit), MTU 9000, TDF 1: wall
#    goodput of a 2 GB verified transfer over TCP and over QUIC on smoltcp,
#    and raw 9000-byte packets through router, shaper and wire (no stack),
#    beside loopback UDP (9044-byte datagrams), kernel TCP and quinn on the
#    kernel's UDP.
# 2. Space paths: 3 hops of 988 km (19.8 ms RTT) at 0.5 Gb/s with loss 0,
#    0.1 % and 1 %: goodput of a 100 MB transfer as a share of capacity for
#    TCP (cubic) and QUIC (cubic, newreno, bbr).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
cargo build --release -q -p orbnet-node --example baselines
BIN=target/release/orbnet
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

goodput() {  # scenario-file out-dir → "goodput_gbps verified"
  "$BIN" up "$1" --out "$2" >/dev/null 2>"$TMP/err" || true
  # An unfinished transfer counts what arrived over the whole run.
  python3 -c "import json,sys; s=json.load(open(sys.argv[1]+'/summary.json')); t=s['transfers'][0]; g=t['goodput_gbps'] or t['received']*8/s['duration_s']/1e9; print(g, t['verified'], t['path_capacity_gbps'])" "$2"
}

echo "== data plane (wall Gb/s; TDF 1, so virtual = wall) =="
target/release/examples/baselines > "$TMP/base"
cat "$TMP/base"
udp=$(awk '/^udp_gbps/{print $2}' "$TMP/base"); tcp=$(awk '/tcp_gbps/{print $2}' "$TMP/base"); quinn=$(awk '/quinn_gbps/{print $2}' "$TMP/base")
raw=$(awk '/raw_frames_gbps/{print $2}' "$TMP/base")
python3 -c "import sys; g,b=float(sys.argv[1]),float(sys.argv[2]); print(f'orbnet raw   {g:8.3f} Gb/s  (router, shaper, wire; no stack)  baseline {b:8.3f} Gb/s  ratio {g/b:6.1%}')" "$raw" "$udp"
for t in tcp quic; do
  cat > "$TMP/pair-$t.toml" <<TOML
name = "pair"
duration_s = 20
[constellation]
kind = "formation"
count = 2
altitude_km = 650
[links]
pattern = "nearest"
k = 1
rate_gbps = 400
queue_bytes = 268435456
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-1"
bytes = 2000000000
transport = "$t"
TOML
  read -r g v _ < <(goodput "$TMP/pair-$t.toml" "$TMP/pair-$t")
  base=$tcp; [ "$t" = quic ] && base=$quinn
  python3 -c "import sys; g,b=float(sys.argv[1]),float(sys.argv[2]); print(f'orbnet {sys.argv[3]:<5} {g:8.3f} Gb/s  verified={sys.argv[4]}  baseline {b:8.3f} Gb/s  ratio {g/b:6.1%}')" "$g" "$base" "$t" "$v"
done

echo "== space path: 3 hops, 19.8 ms RTT, 0.5 Gb/s (share of capacity) =="
printf '%-14s %8s %8s %8s\n' transport "loss 0" "0.1 %" "1 %"
for tc in tcp:cubic quic:cubic quic:newreno quic:bbr; do
  t=${tc%%:*}; cc=${tc##*:}
  row=$(printf '%-14s' "$t/$cc")
  for loss in 0 0.001 0.01; do
    cat > "$TMP/path.toml" <<TOML
name = "path"
duration_s = 6
[constellation]
kind = "walker"
planes = 1
per_plane = 44
altitude_km = 550
inclination_deg = 53
[links]
rate_gbps = 0.5
loss = $loss
queue_bytes = 8000000
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-3"
bytes = 100000000
transport = "$t"
cc = "$cc"
TOML
    read -r g v cap < <(goodput "$TMP/path.toml" "$TMP/path-$t-$cc-$loss")
    row="$row $(python3 -c "import sys; g,c=float(sys.argv[1]),float(sys.argv[2]); print(f'{g/c:8.1%}' + ('' if sys.argv[3]=='True' else '!'))" "$g" "$cap" "$v")"
  done
  echo "$row"
done
echo "(! = unfinished in the run: the share is what arrived over the whole 6 s)"
