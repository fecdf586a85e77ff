/**
 * One owner per webhook spool directory. A spool holds one file per undelivered batch, numbered from 1 by the
 * sink that wrote it, and its sink takes every such file as its own: two sinks on one directory (two webhook
 * sinks of one config, which the config refuses, or two `fleet serve` processes with the same config on one host)
 * would send each other's batches, to the other's receiver, and overwrite each other's files.
 *
 * The owner is recorded in `<spool>/.owner` (its pid), created exclusively. A file whose process is gone is
 * stale and taken over; so is one naming this process's pid that no sink of this process holds (a container
 * restart can hand the new process the old one's pid).
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OutflowError } from '../../src/errors.js';
import { PRIVATE_FILE_MODE } from '../file-modes.js';

/** Spool directories (resolved) held by sinks of this process. */
const heldHere = new Set<string>();

const OWNER_FILE = '.owner';

function ownerPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function running(pid: number, dir: string): boolean {
  if (pid === process.pid) return heldHere.has(dir);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Make this process the owner of `spoolDir` (which exists); returns the release. Throws when another owner runs. */
export function claimSpool(spoolDir: string): () => void {
  const dir = path.resolve(spoolDir);
  const file = path.join(dir, OWNER_FILE);
  const inUse = (pid: number) =>
    new OutflowError(
      'CONFIG_INVALID',
      `webhook spool ${dir} is in use by process ${pid}${pid === process.pid ? ' (another webhook sink of this process)' : ''}`,
      `give each webhook sink, and each fleet serve instance on this host, a spool_dir of its own; if process ${pid} is not an Outflow process, delete ${file}`,
    );
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: PRIVATE_FILE_MODE });
      heldHere.add(dir);
      return () => release(dir, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new OutflowError('SINK_FAILED', `cannot write ${file}`, 'check permissions of the webhook spool directory', { cause: err });
      }
    }
    const pid = ownerPid(file);
    if (pid !== null && running(pid, dir)) throw inUse(pid);
    try {
      unlinkSync(file);
    } catch {
      // another process took it over first: the next attempt sees its pid
    }
  }
  throw inUse(ownerPid(file) ?? 0);
}

function release(dir: string, file: string): void {
  if (!heldHere.delete(dir)) return;
  if (ownerPid(file) !== process.pid) return;
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
