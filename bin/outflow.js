#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (npm run build). In a checkout, `npm run outflow -- …` runs the sources.
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('outflow: dist/ not built. Run `npm run build` first (or `npm run outflow -- …` from a checkout).\n');
    process.exit(2);
  }
  throw err;
});
