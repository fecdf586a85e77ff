#!/usr/bin/env bash
# `npm run demo`: the README's main command. Simulates a small fleet (50 Macs, 9 days of osquery
# result logs with injected exfiltration and hard negatives), ingests it with the embedded SQLite
# store, finalizes, and prints the detections. Works from a fresh clone after `npm ci`.
#   OUTFLOW_DEMO_DIR=/some/dir npm run demo   keeps the logs and the store there
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh   # npm ci on a fresh machine (better-sqlite3 compiles, ~70 s); no-op afterwards
out="${OUTFLOW_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/outflow-demo.XXXXXX")}"
mkdir -p "$out"
run() { node --import tsx "$@"; }

echo "== simulating 50 hosts × 9 days into $out/logs"
# --server-names dns: flows as the extension reports them, named after the DNS answers it captured
run scripts/simulate-fleet.ts --hosts 50 --days 9 --seed 7 --server-names dns --out "$out/logs"

echo "== outflow fleet ingest (SQLite store $out/outflow.db)"
rm -f "$out/outflow.db" "$out/outflow.db-wal" "$out/outflow.db-shm"
run cli/main.ts fleet ingest --store "$out/outflow.db" --quarantine "$out/quarantine.ndjson" --flush "$out"/logs/osquery_result.*.log

echo "== outflow fleet detections"
run cli/main.ts fleet detections --store "$out/outflow.db" --format table

echo
echo "injected scenarios: $out/logs/manifest.json"
# -s: without it npm prints two lines of its own on stdout, before the JSON
echo "more: npm run -s outflow -- fleet detections --store $out/outflow.db --format json   (or --format ocsf, table)"
