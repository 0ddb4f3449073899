#!/usr/bin/env bash
# Ingest benchmark: now the `ingest` scenario of bench/run (see docs/benchmarks.md).
# usage: bench/ingest.sh [seconds=10] [connections=64] [runs=1]
exec "$(dirname "$0")/run" --seconds "${1:-10}" --connections "${2:-64}" --runs "${3:-1}" ingest
