#!/usr/bin/env bash
# Runs split across hosts against one host, on this machine (issue 16,
# Benchmarks). As root: three network namespaces made here, joined by veth
# pairs to a bridge in a fourth (addresses 10.214.0.1-3/24; nothing leaves
# them), one `orbnet up --hosts 3 --host-index K` in each, as in
# tests/netns.rs. Everything made here is removed on exit (trap): the
# processes in the namespaces, the namespaces, their veths and the bridge.
#
# 1. ring-12 (topologies/ring-12.toml: 12 satellites at 800 km, 1 Gb/s,
#    sat-0 → sat-6 148.7 ms round trip) with 10 echoes sat-0 → sat-6 from
#    t = 0 and then, from 2.2 s, a TCP bulk transfer sat-0 → sat-6 of
#    BYTES (default 250 MB), at TDF (default 10) for DURATION virtual
#    seconds (default 7): split over three hosts (the graph partition puts
#    sat-0–3, sat-4–7, sat-8–11 on hosts 0, 1, 2, so the path crosses
#    host 0 → 1, `orbnet plan SCENARIO --hosts 3`), and as one host (plain
#    `orbnet up`). Prints bulk goodput, ping RTT error against geometry
#    (p50/p99) and worst lateness side by side.
#    The veths' MTU is MTU (default 9500, above ring-12's 9000-byte
#    frames).
# 2. With --starlink: topologies/starlink-phase1.toml (4408 satellites) at
#    TDF 10 for 2 virtual seconds, three hosts against one: memory per host
#    (the sum of Private_Dirty of that host's `orbnet node` processes,
#    sampled every 2 s, at its peak), the machine-wide peak drop of
#    MemAvailable, worst lateness per host, echoes. Takes several minutes
#    and about 15 GB.
#
#   sudo scripts/bench-hosts.sh [--starlink]
#   TDF=10 BYTES=250000000 DURATION=7 sudo -E scripts/bench-hosts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
STARLINK=0
[[ ${1:-} == --starlink ]] && STARLINK=1
[[ $(id -u) == 0 ]] || { echo "bench-hosts.sh makes network namespaces: run it as root"; exit 2; }
TDF=${TDF:-10}
BYTES=${BYTES:-250000000}
DURATION=${DURATION:-7}
PORT=7470
# The veths' MTU: above ring-12's 9000-byte frames (at the kernel's default
# of 1500 the transfer across hosts got no byte through: send errors at
# sat-3, the boundary satellite).
MTU=${MTU:-9500}
cargo build --release -q
BIN=${CARGO_TARGET_DIR:-target}/release/orbnet
BIN=$(realpath "$BIN")
TMP=$(mktemp -d)
TAG="obh$$"
HUB="$TAG-hub"
NS=("$TAG-0" "$TAG-1" "$TAG-2")
SAMPLER=""

cleanup() {
  if [[ -n $SAMPLER ]]; then kill "$SAMPLER" 2> /dev/null || true; fi
  for ns in "${NS[@]}" "$HUB"; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2> /dev/null); do kill -9 "$pid" 2> /dev/null || true; done
      ip netns del "$ns" 2> /dev/null || true
    fi
  done
  if [[ -n ${KEEP:-} ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

addr() { echo "10.214.0.$(($1 + 1))"; }

ip netns add "$HUB"
ip -n "$HUB" link add br0 type bridge
ip -n "$HUB" link set br0 up
for k in 0 1 2; do
  ns=${NS[$k]}
  ip netns add "$ns"
  # Made inside the host's namespace, the hub's end moved out.
  ip -n "$ns" link add eth0 type veth peer name "h$k"
  ip -n "$ns" link set "h$k" netns "$HUB"
  ip -n "$HUB" link set "h$k" mtu "$MTU"
  ip -n "$HUB" link set "h$k" master br0 up
  ip -n "$ns" addr add "$(addr "$k")/24" dev eth0
  ip -n "$ns" link set eth0 mtu "$MTU" up
  ip -n "$ns" link set lo up
done

# split FILE OUT [ARGS...]: the scenario over the three namespaced hosts;
# host 0's status is the run's.
split() {
  local file=$1 out=$2 pids=() k rc=0
  shift 2
  for k in 2 1 0; do
    ip netns exec "${NS[$k]}" "$BIN" up "$file" "$@" --hosts 3 --host-index "$k" \
      --bind "$(addr "$k")" --coordinator "$(addr 0):$PORT" --out "$out.$k" \
      > "$out.$k.log" 2>&1 &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k" || rc=$?; done
  ln -s "$out.0" "$out"
  return "$rc"
}

# 1. ring-12: a ping, then a bulk transfer, across hosts and on one host.
sed '/^\[\[workload\]\]/,$d' topologies/ring-12.toml > "$TMP/ring.toml"
cat >> "$TMP/ring.toml" <<TOML
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-6"
interval_ms = 200
count = 10

[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-6"
transport = "tcp"
bytes = $BYTES
start_s = 2.2
TOML
"$BIN" plan "$TMP/ring.toml" --hosts 3 | sed -n '/hosts (/,$p'
echo
start=$(date +%s)
split "$TMP/ring.toml" "$TMP/ring-split" --tdf "$TDF" --duration "$DURATION" || echo "split run: exit $?"
mid=$(date +%s)
"$BIN" up "$TMP/ring.toml" --tdf "$TDF" --duration "$DURATION" --out "$TMP/ring-one" > "$TMP/ring-one.log" 2>&1 || echo "one-host run: exit $?"
end=$(date +%s)
python3 - "$TMP/ring-split/summary.json" "$TMP/ring-one/summary.json" "$((mid - start))" "$((end - mid))" "$TDF" "$BYTES" <<'PY'
import json, sys
split, one = (json.load(open(p)) for p in sys.argv[1:3])
walls = sys.argv[3:5]
print(f"ring-12, TDF {sys.argv[5]}, ping sat-0 → sat-6 x10, then TCP bulk sat-0 → sat-6 of {int(sys.argv[6]) / 1e6:.0f} MB")
print("| run | goodput (Gb/s) | verified | echoes | RTT error p50 / p99 (µs) | worst lateness (virtual ms) | wall (s) |")
print("|---|---|---|---|---|---|---|")
for name, s, wall in (("3 namespaced hosts", split, walls[0]), ("1 host", one, walls[1])):
    t = s["transfers"][0]
    g = t["goodput_gbps"]
    g = f"{g:.3f}" if g is not None else f"unfinished ({t['received'] / 1e6:.0f} MB)"
    p = s["ping"][0]
    e = p["error_ms"]
    hosts = s.get("hosts") or [s["host"]]
    late = max(h["late_max_us"] for h in hosts) / 1e3
    per = ""
    if s.get("hosts"):
        per = " (" + " / ".join(f"{h['late_max_us'] / 1e3:.2f}" for h in s["hosts"]) + ")"
    print(f"| {name} | {g} | {t['verified']} | {p['received']}/{p['sent']} | "
          f"{e['p50'] * 1e3:.1f} / {e['p99'] * 1e3:.1f} | {late:.2f}{per} | {wall} |")
PY

[[ $STARLINK == 1 ]] || exit 0

# 2. starlink-phase1, three hosts against one: memory per host, lateness.
# sample OUT: every 2 s, per namespace (or "one" outside them), the sum of
# Private_Dirty (kB) of the `orbnet node` processes, and MemAvailable.
sample() {
  exec python3 - "$1" "${NS[@]}" <<'PY'
import os, sys, time
out, names = sys.argv[1], sys.argv[2:]
# A namespace is known by its inode; processes outside them count as "one".
inode = {}
for ns in names:
    try:
        inode[os.stat(f"/run/netns/{ns}").st_ino] = ns
    except OSError:
        pass
while True:
    sums = dict.fromkeys(names + ["one"], 0)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            if len(cmd) < 2 or not cmd[0].endswith(b"orbnet") or cmd[1] != b"node":
                continue
            ns = inode.get(os.stat(f"/proc/{pid}/ns/net").st_ino, "one")
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Private_Dirty:"):
                    sums[ns] += int(line.split()[1])
        except OSError:
            continue
    avail = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemAvailable"))
    with open(out, "a") as f:
        for ns, kb in sums.items():
            f.write(f"{ns} {kb} {avail}\n")
    time.sleep(2)
PY
}
avail0=$(awk '/^MemAvailable/ {print $2}' /proc/meminfo)
for run in split one; do
  sample "$TMP/mem-$run" & SAMPLER=$!
  if [[ $run == split ]]; then
    split topologies/starlink-phase1.toml "$TMP/sl-split" --tdf 10 --duration 2 || echo "split run: exit $?"
  else
    "$BIN" up topologies/starlink-phase1.toml --tdf 10 --duration 2 --out "$TMP/sl-one" > "$TMP/sl-one.log" 2>&1 || echo "one-host run: exit $?"
  fi
  kill "$SAMPLER"; wait "$SAMPLER" 2> /dev/null || true; SAMPLER=""
  sleep 5
done
python3 - "$TMP" "$avail0" <<'PY'
import json, sys
tmp, avail0 = sys.argv[1], int(sys.argv[2])
def mem(run):
    peak, low = {}, avail0
    for line in open(f"{tmp}/mem-{run}"):
        ns, kb, avail = line.split()
        peak[ns] = max(peak.get(ns, 0), int(kb)); low = min(low, int(avail))
    return peak, (avail0 - low) / 1e6
print("\nstarlink-phase1, TDF 10, 2 virtual seconds")
print("| run | host | satellites | node memory (GB, Private_Dirty, peak) | worst lateness (virtual ms) | echoes |")
print("|---|---|---|---|---|---|")
for run in ("split", "one"):
    s = json.load(open(f"{tmp}/sl-{run}/summary.json"))
    peak, drop = mem(run)
    echoes = "; ".join(f"{p['received']}/{p['sent']}" for p in s.get("ping", []))
    if run == "split":
        for k, h in enumerate(s["hosts"]):
            key = sorted(x for x in peak if x != "one")[k]
            print(f"| 3 namespaced hosts | {k} | {h['satellites']} | {peak[key] / 1e6:.2f} | {h['late_max_us'] / 1e3:.2f} | {echoes if k == 0 else ''} |")
    else:
        print(f"| 1 host | – | {s['satellites'] if 'satellites' in s else '4408'} | {peak['one'] / 1e6:.2f} | {s['host']['late_max_us'] / 1e3:.2f} | {echoes} |")
    print(f"|  | machine-wide peak drop of MemAvailable: {drop:.2f} GB |  |  |  |  |")
PY
