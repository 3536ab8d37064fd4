#!/usr/bin/env bash
# Makes a test venv hold exactly the packages pinned in the requirements.txt beside
# it: tests/sdk/.venv by default, or the folder given as $1 (tests/schema uses this
# script too); $2 is which installed packages to name in the summary line.
#
# Idempotent and cheap when nothing changed: the venv keeps a stamp (a hash of
# requirements.txt and of the python3 it was built with), and the venv is only
# (re)built when it is missing, broken, or the stamp no longer matches.
# Safe to call from several processes at once (CI and parallel test runs do):
# everything happens under an exclusive flock on tests/sdk/.venv.lock, so a
# second caller waits for the first build and then finds the venv ready.
#
# Usage: bash tests/sdk/ensure_venv.sh [DIR [NAMES-REGEX]]   (from anywhere)
set -euo pipefail

here="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
shown="${2:-openai|anthropic|pytest}"
venv="$here/.venv"
requirements="$here/requirements.txt"
stamp="$venv/.requirements.stamp"
lock="$here/.venv.lock"

command -v python3 >/dev/null || { echo "ensure_venv: python3 not found; install Python 3.9+" >&2; exit 1; }

# What the installed venv must match: the pins, and the interpreter (a venv
# built by another python3 can break when that python3 goes away).
wanted="$(
    {
        sha256sum <"$requirements"
        python3 -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
)"

exec 9>"$lock"
flock 9

# Up to date: the venv's python runs and was built from these exact pins.
if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c '' 2>/dev/null &&
    [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$wanted" ]]; then
    exit 0
fi

echo "ensure_venv: building $venv from $requirements" >&2
# --clear rebuilds from scratch, so packages dropped from the pins do not linger.
python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
    -r "$requirements"
# Written last and atomically: an interrupted install leaves no stamp, so the
# next call starts over instead of trusting a half-built venv.
echo "$wanted" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
"$venv/bin/python" -m pip freeze --disable-pip-version-check |
    grep -iE "^(${shown})==" | sed 's/^/ensure_venv: installed /' >&2
