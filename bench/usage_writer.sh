#!/usr/bin/env bash
# The usage writer's cost per event and per batch (issue 16, item 2).
#
#   bench/usage_writer.sh [EVENTS] [BATCH]      (defaults 20000 250)
#
# Builds the `usage_writer` example (bench/usage_writer.rs) in the profile of
# $PROFILE (default dev: the dependencies, SQLite included, are built at -O1 there;
# compare like with like), then:
#  1. callgrind over EVENTS events and over 0 events (start-up and migrations);
#     the difference divided by EVENTS is the instructions per event, every thread
#     counted (sqlx runs SQLite on a worker thread per connection);
#  2. five plain runs for CPU time per batch (p50/p90/max over the batches) and
#     per event, from the threads' schedstat.
# Set TOLLGATE_BENCH_DB=postgres://… to measure PostgreSQL instead (the database
# must be empty and is not dropped).
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-20000}
BATCH=${2:-250}
PROFILE=${PROFILE:-dev}
cargo build --profile "$PROFILE" --example usage_writer --quiet
dir=debug
[ "$PROFILE" = dev ] || dir=$PROFILE
bin=target/$dir/examples/usage_writer
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

total_ir() {
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" "$@" >/dev/null 2>"$out/vg.log"
    # Every thread's cost lands in one file per process ("summary:" line).
    local f sum=0
    for f in "$out"/cg.*; do
        sum=$((sum + $(awk '/^summary:/ {print $2}' "$f")))
        rm -f "$f"
    done
    echo "$sum"
}

base=$(total_ir "$bin" 0 "$BATCH")
full=$(total_ir "$bin" "$EVENTS" "$BATCH")
echo "commit=$(git rev-parse --short HEAD) profile=$PROFILE events=$EVENTS batch=$BATCH"
echo "callgrind: baseline_ir=$base total_ir=$full instructions_per_event=$(( (full - base) / EVENTS ))"
for _ in 1 2 3 4 5; do
    "$bin" "$EVENTS" "$BATCH"
done
