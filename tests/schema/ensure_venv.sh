#!/usr/bin/env bash
# Makes tests/schema/.venv hold exactly the packages pinned in requirements.txt
# beside this script; the same idempotent, flock-guarded build as the SDK venv.
#
# Usage: bash tests/schema/ensure_venv.sh   (from anywhere)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../sdk/ensure_venv.sh" "$here" 'schemathesis|openapi-spec-validator'
