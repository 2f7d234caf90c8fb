#!/usr/bin/env bash
# Install schoolgate with its test extras into .venv (created if missing) and run every test.
# Extra arguments go to pytest. PostgreSQL tests run when SCHOOLGATE_TEST_DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
