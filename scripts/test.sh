#!/usr/bin/env bash
# The one command that runs every test (README; .ci/run calls exactly this).
# Installs dependencies when the lockfile changed, starts the services the tests need
# (PostgreSQL, NATS JetStream) when they are not running, runs vitest, and ends with the plain
# line "N passed, N failed, N skipped" computed from vitest's own JSON results.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
bash scripts/services.sh || { echo "services failed to start"; echo "0 passed, 1 failed"; exit 1; }

results=.vitest-results.json
rm -f "$results"
npx vitest run --reporter=default --reporter=json --outputFile="$results" "$@"
status=$?
node scripts/test-summary.mjs "$results" "$status"
