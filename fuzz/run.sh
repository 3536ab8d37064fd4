#!/usr/bin/env bash
# Bounded coverage-guided fuzzing, for CI: builds every target in fuzz/ (libFuzzer
# through cargo-fuzz, no sanitizer, which is what works on stable Rust) and runs
# each from its committed seed corpus for a fixed time and number of runs. A
# crash, panic, stack overflow, timeout or out-of-memory fails the script; the
# input that did it is left in fuzz/artifacts/<target>/ (reproduce it with
# `cargo fuzz run -s none <target> fuzz/artifacts/<target>/<file>`).
#
# Usage: fuzz/run.sh [SECONDS_PER_TARGET]   (default 15; or FUZZ_SECONDS)
#        FUZZ_RUNS caps the runs per target as well (default 5000000).
# New corpus entries go to a temp dir: the committed seeds are never rewritten.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

SECONDS_PER_TARGET="${1:-${FUZZ_SECONDS:-15}}"
RUNS="${FUZZ_RUNS:-5000000}"

cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked

start=$SECONDS
cargo fuzz build -s none
echo "fuzz: built in $((SECONDS - start)) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for target in $(cargo fuzz list); do
    mkdir -p "$work/$target"
    t0=$SECONDS
    if ! cargo fuzz run -s none "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -runs="$RUNS" \
        -timeout=10 -rss_limit_mb=2048 >"$work/$target.log" 2>&1; then
        tail -n 60 "$work/$target.log"
        echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    echo "fuzz: $target clean: $(grep -o 'Done [0-9]* runs' "$work/$target.log" | tail -n 1) in $((SECONDS - t0)) s"
done
echo "fuzz: every target clean; $((SECONDS - start)) s in all"
