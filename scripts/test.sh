#!/usr/bin/env bash
# Install schoolgate with its test tools into .venv from the lock, then check everything:
# ruff (lint), mypy (types), the catalogs, and every test. Extra arguments go to pytest.
# PostgreSQL tests run when SCHOOLGATE_TEST_DATABASE_URL is set (.ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"  # scripts/upgrade-deps.sh runs the suite in a venv of its own
export VENV
# exactly the versions in requirements-test.lock, hashes checked (scripts/install.sh)
[ -f "${LOCKS:-.}/requirements-test.lock" ] || { echo "requirements-test.lock is missing" >&2; exit 1; }
bash scripts/install.sh --test
echo "== ruff"
"$VENV/bin/ruff" check .
echo "== mypy"
"$VENV/bin/mypy"
echo "== catalogs"
PYTHON="$VENV/bin/python" bash scripts/catalogs.sh --check
echo "== pytest"
exec "$VENV/bin/python" -m pytest "$@"
