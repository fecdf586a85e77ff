#!/usr/bin/env bash
# Regenerate extension/sdk/gen/ from extension/sdk/osquery.thrift (npm run gen:thrift).
# Needs the Apache Thrift compiler (Debian: apt-get install -y thrift-compiler; tested with 0.17.0).
# `js:node,es6,ts` emits promise-returning clients and promise-aware processors that work with the
# npm `thrift` 0.24 runtime; plain `js:node` clients only support callbacks.
# The output is CommonJS while the repo is ESM ("type":"module"), so the files are renamed to .cjs and
# their relative require()s pointed at the new names. That is the only post-processing. A
# gen/package.json would not survive `tsc` into dist/, but the .cjs extension does.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v thrift >/dev/null || { echo "thrift compiler not found: apt-get install -y thrift-compiler" >&2; exit 1; }

out=extension/sdk/gen
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
thrift --gen js:node,es6,ts -out "$tmp" extension/sdk/osquery.thrift
rm -rf "$out"
mkdir -p "$out"
for f in "$tmp"/*.js; do
  base=$(basename "$f" .js)
  sed -e "s#require('./\([A-Za-z_]*\)')#require('./\1.cjs')#g" "$f" > "$out/$base.cjs"
done
# The `ts` declarations are not kept: a .d.cts next to a .cjs makes tsc skip emitting that .cjs into
# dist/, and thrift-bridge.ts types the little it uses of the generated services itself.
echo "generated $(ls "$out" | wc -l) files in $out with $(thrift --version)"
