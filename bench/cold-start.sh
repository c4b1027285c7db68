#!/usr/bin/env bash
# Cold start and idle memory of every function vs a trivial axum binary (see
# crates/bench-coldstart/benches/cold_start.rs). Release builds of `prow` and the baseline.
#   bench/cold-start.sh            ROUNDS=15 bench/cold-start.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p prow-cli --bin prow
cargo bench -p prow-bench-coldstart --bench cold_start
