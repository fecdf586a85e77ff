#!/usr/bin/env bash
# Regenerate extension/sdk/gen/ from extension/sdk/osquery.thrift (npm run gen:thrift).
# Needs the Apache Thrift compiler (Debian: apt-get install -y thrift-compiler; tested with 0.17.0).
# `js:node,es6,ts` emits promise-returning clients and promise-aware processors that work with the
# npm `thrift` 0.24 runtime; plain `js:node` clients only support callbacks.
# The output is CommonJS, so gen/ carries a package.json with "type":"commonjs" (the repo is ESM).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v thrift >/dev/null || { echo "thrift compiler not found: apt-get install -y thrift-compiler" >&2; exit 1; }

out=extension/sdk/gen
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
thrift --gen js:node,es6,ts -out "$tmp" extension/sdk/osquery.thrift
rm -rf "$out"
mkdir -p "$out"
cp "$tmp"/* "$out"/
printf '{\n  "type": "commonjs"\n}\n' > "$out/package.json"
echo "generated $(ls "$out" | wc -l) files in $out with $(thrift --version)"
