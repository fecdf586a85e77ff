/**
 * Child process for the spool ownership race test: waits until the given start time, claims the spool and prints
 * "claimed" or "refused". A claimer holds the spool until its stdin ends, so every racer tries while it is held.
 */
import { claimSpool } from '../../fleet/sinks/spool-owner.js';

const [spoolDir, startAt] = process.argv.slice(2);
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
let release: (() => void) | undefined;
try {
  release = claimSpool(spoolDir!);
  process.stdout.write('claimed\n');
} catch {
  process.stdout.write('refused\n');
}
process.stdin.resume();
process.stdin.on('end', () => {
  release?.();
  process.exit(0);
});
