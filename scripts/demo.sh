#!/usr/bin/env bash
# Install schoolgate into .venv (created if missing) and run the demo in ./demo-run:
# SQLite database and outbox files land there; nothing needs an account.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet .
mkdir -p demo-run
cd demo-run
exec ../.venv/bin/schoolgate demo
