#!/usr/bin/env bash
# Delivery benchmark: now the `deliver` scenario of bench/run (see docs/benchmarks.md).
# usage: bench/deliver.sh [events=50000] [connections=64] [runs=1]
exec "$(dirname "$0")/run" --events "${1:-50000}" --connections "${2:-64}" --runs "${3:-1}" deliver
