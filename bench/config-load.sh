#!/usr/bin/env bash
# Prints the config load benchmark: full load+validate of Kubernetes' Prow config vs a bare YAML parse.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p prow-core --bench config_load
