#!/usr/bin/env bash
# Coverage-guided fuzzing of every input orbnet reads (cargo-fuzz, libFuzzer):
# wire frames, the router's handling of an arbitrary IP packet, scenario
# TOML, element sets, ground-station files, Chakra traces and the
# launcher's JSON lines.
#   scripts/fuzz.sh [SECONDS]      (per target; 60 by default)
# Each target starts from its seed corpus (fuzz/corpus/<target>, written by
# fuzz/seeds.py, kept in git) and what earlier runs found
# (fuzz/work/<target>, not kept), and adds what it finds to the latter; a
# crash is left under
# fuzz/artifacts/<target>/ and stops the script: copy the input to
# fuzz/regressions/<target>/ (the workspace tests replay that folder, see
# netem/tests/fuzz_corpus.rs and nodes/tests/fuzz_corpus.rs) and fix it.
# Nightly builds with AddressSanitizer; without nightly, stable builds
# with `-s none` (RUSTC_BOOTSTRAP lets cargo-fuzz's flags through).
# Prints, per target: runs, executions per second, corpus size, new inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
TARGETS=${TARGETS:-"wire_frame router_packet scenario_toml element_sets ground_stations chakra_trace protocol_lines"}
command -v cargo-fuzz > /dev/null || {
  echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 1; }
if rustup toolchain list 2> /dev/null | grep -q '^nightly'; then
  FUZZ=(cargo +nightly fuzz)
  SAN=()
else
  export RUSTC_BOOTSTRAP=1
  FUZZ=(cargo fuzz)
  SAN=(-s none)
fi
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT

"${FUZZ[@]}" build --release "${SAN[@]}" >&2
printf '%-15s %9s %10s %8s %7s\n' target runs execs/s found new
for t in $TARGETS; do
  mkdir -p "fuzz/work/$t"
  before=$(find "fuzz/work/$t" -type f | wc -l)
  "${FUZZ[@]}" run --release "${SAN[@]}" "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -print_final_stats=1 \
    > "$LOG/$t" 2>&1 || { tail -n 40 "$LOG/$t" >&2; echo "fuzz.sh: $t crashed" >&2; exit 1; }
  after=$(find "fuzz/work/$t" -type f | wc -l)
  runs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$LOG/$t")
  rate=$(awk '/stat::average_exec_per_sec:/ { print $2 }' "$LOG/$t")
  printf '%-15s %9s %10s %8s %7s\n' "$t" "${runs:-?}" "${rate:-?}" "$after" $((after - before))
done
