import { posix } from 'node:path';
import { MAX_ARG_CHARS } from './archive.js';

/**
 * Programs whose run is often one short transfer: a stealer's `curl -F @loot.zip http://…` sends a few megabytes
 * in a second or two and exits, between two flow samples. Keyed by name on purpose: this only asks for an earlier
 * sample, it trusts nothing, and a renamed copy is sampled as before.
 */
const TRANSFER_TOOLS: ReadonlySet<string> = new Set([
  'curl', 'wget', 'wget2', 'nc', 'ncat', 'netcat', 'socat', 'scp', 'sftp', 'rsync', 'ftp', 'tftp', 'rclone', 'aria2c',
]);

/** A URL argument (`python3 -c 'urlopen("https://…")'`, `node up.js http://…:1224/uploads`). */
const URL_ARGUMENT = /(?:https?|ftps?):\/\//i;

/** Arguments looked at (each read up to archive.ts's MAX_ARG_CHARS): argv is attacker-controlled and can be long. */
const MAX_ARGS = 64;

/** Does this exec (executable path and argv) start what may be a short network transfer? */
export function startsTransfer(executablePath: string, args: readonly string[] | undefined): boolean {
  if (TRANSFER_TOOLS.has(posix.basename(executablePath))) return true;
  if (!args) return false;
  const n = Math.min(args.length, MAX_ARGS);
  for (let i = 1; i < n; i++) {
    const a = args[i]!;
    if (URL_ARGUMENT.test(a.length > MAX_ARG_CHARS ? a.slice(0, MAX_ARG_CHARS) : a)) return true;
  }
  return false;
}
