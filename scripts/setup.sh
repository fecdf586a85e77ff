#!/usr/bin/env bash
# Install npm dependencies (better-sqlite3 compiles from source, ~70 s) when package-lock.json changed
# since the last install. Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.outflow-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d node_modules/better-sqlite3/build ]; then
  exit 0
fi
echo "installing npm dependencies (npm ci)…" >&2
npm ci --no-audit --no-fund >&2
echo "$want" > "$stamp"
