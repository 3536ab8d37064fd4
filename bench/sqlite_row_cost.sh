#!/usr/bin/env bash
# What SQLite itself spends per usage row, per schema variant (issue 16): the
# usage_events table of migration 0070 written in multi-row INSERTs of BATCH rows
# (one transaction each, WAL, synchronous=NORMAL), through Python's sqlite3
# module, under callgrind. Instructions per event = (run of EVENTS − run of 0) /
# EVENTS; the Python side (building the parameters) is the same in every variant,
# so the differences are SQLite's. Needs valgrind and python3 (its own SQLite
# library, not the one bundled into the gateway: compare variants, not absolutes).
#
#   bench/sqlite_row_cost.sh [EVENTS] [BATCH] [VARIANTS]   (defaults 4000 10, all)
# Variants: trigger (0070: the per-row range trigger), none (0080: no trigger),
# check (CHECK constraints instead), withoutrowid (id as a WITHOUT ROWID primary
# key, no rowid table), nots (no ts_ms index); and for the hourly rollup, one
# upsert per transaction: hourly-trigger (0070's two typeof triggers),
# hourly-none, hourly-check (CHECK (typeof(x) = 'integer') per column),
# hourly-strict (0080: a STRICT table). For those, "per event" is per upsert.
set -euo pipefail
EVENTS=${1:-4000}
BATCH=${2:-10}
VARIANTS=${3:-trigger none check withoutrowid nots hourly-trigger hourly-none hourly-check hourly-strict}
PY=$(python3 -c 'import sys; print(sys.executable)') # past pyenv's shell shim
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ir() {
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$PY" "$here/sqlite_row_cost.py" "$@" \
        >/dev/null 2>"$out/vg.log"
    awk '/^summary:/ {print $2}' "$out/cg"
    rm -f "$out/cg"
}
echo "sqlite $("$PY" -c 'import sqlite3; print(sqlite3.sqlite_version)') events=$EVENTS batch=$BATCH"
for v in $VARIANTS; do
    base=$(ir "$v" 0 "$BATCH")
    full=$(ir "$v" "$EVENTS" "$BATCH")
    printf '%-13s %8d instructions/event\n' "$v" $(((full - base) / EVENTS))
done
