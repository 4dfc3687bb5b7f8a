#!/usr/bin/env bash
# Snapshot and next-hop table timings of starlink-shell1 (1584 satellites).
#   scripts/bench-plan.sh [SCENARIO]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p orbnet-netem --example plan_bench -- "${1:-topologies/starlink-shell1.toml}"
