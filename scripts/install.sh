#!/usr/bin/env bash
# Install schoolgate into .venv (created if missing) from the lock, so this machine gets
# exactly the versions the suite was last run with.
#
#   scripts/install.sh          runtime only (requirements.lock), the package itself
#   scripts/install.sh --test   runtime and test tools (requirements-test.lock), editable
#
# Every file is checked against the hash in the lock (pip --require-hashes); nothing is
# resolved here. To move the lock to newer versions, see scripts/upgrade-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
LOCKS="${LOCKS:-.}"  # the folder holding the two lock files
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --quiet --disable-pip-version-check "$@"; }
if [ "${1:-}" = "--test" ]; then
    pip install --require-hashes --no-deps -r "$LOCKS/requirements-test.lock"
    pip install --no-deps -e .
else
    pip install --require-hashes --no-deps -r "$LOCKS/requirements.lock"
    pip install --no-deps .
fi
