#!/usr/bin/env bash
# Install schoolgate into .venv from the lock and run the demo in ./demo-run:
# SQLite database and outbox files land there; nothing needs an account.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
mkdir -p demo-run
cd demo-run
exec ../.venv/bin/schoolgate demo
