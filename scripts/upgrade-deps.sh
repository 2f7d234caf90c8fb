#!/usr/bin/env bash
# Move the lock files to the newest versions pyproject.toml allows, and keep them only
# if the whole suite passes with them (ruff, mypy, catalogs, pytest, in a fresh venv).
#
#   scripts/upgrade-deps.sh               re-resolve everything
#   scripts/upgrade-deps.sh -P babel      move one package only (uv's --upgrade-package)
#
# On failure the old lock stays in place and the failing tests are named. Set
# SCHOOLGATE_TEST_DATABASE_URL to include the PostgreSQL tests, as .ci/run does.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

upgrade=(--upgrade)
if [ "${1:-}" = "-P" ] && [ -n "${2:-}" ]; then upgrade=(--upgrade-package "$2"); fi

echo "== resolving with uv (into $work)"
python3 -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --disable-pip-version-check uv
compile() {
    "$work/tools/bin/uv" pip compile pyproject.toml --quiet --universal --python-version 3.11 \
        --generate-hashes --custom-compile-command "scripts/upgrade-deps.sh" "$@"
}
cp requirements-test.lock "$work/old-test.lock"
compile --extra test "${upgrade[@]}" -o "$work/requirements-test.lock"
# the runtime lock takes exactly the test lock's versions, so both were tested together
compile -c "$work/requirements-test.lock" -o "$work/requirements.lock"
sed -i "s|$work/||g" "$work/requirements.lock"  # "via -c requirements-test.lock", as committed

changes=$(diff <(grep -E '^[a-z0-9]' requirements-test.lock) \
               <(grep -E '^[a-z0-9]' "$work/requirements-test.lock") || true)
if [ -z "$changes" ]; then
    echo "The lock already has the newest versions pyproject.toml allows; nothing to do."
    exit 0
fi
echo "== versions that would change (< old, > new)"
echo "$changes" | grep -E '^[<>]' | sed 's/ \\$//'

echo "== the whole suite with the new lock, in a fresh venv"
report="$work/pytest.txt"
set +e
VENV="$work/venv" LOCKS="$work" bash scripts/test.sh -q -rfE 2>&1 | tee "$report"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    step=$(grep -E '^== ' "$report" | tail -n 1)
    echo "The new lock fails at ${step#== }; the old lock stays in place. What failed:" >&2
    # pytest's failed tests by name, else the end of the failing step's output
    if grep -qE '^(FAILED|ERROR) ' "$report"; then
        grep -E '^(FAILED|ERROR) ' "$report" >&2
    else
        tail -n 25 "$report" >&2
    fi
    exit 1
fi
cp "$work/requirements-test.lock" requirements-test.lock
cp "$work/requirements.lock" requirements.lock
echo "The new lock passes the whole suite; requirements.lock and requirements-test.lock" \
     "are updated. Review the changes above and commit them."
