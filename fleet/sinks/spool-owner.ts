/**
 * One owner per webhook spool directory. A spool holds one file per undelivered batch, numbered from 1 by the
 * sink that wrote it, and its sink takes every such file as its own: two sinks on one directory (two webhook
 * sinks of one config, which the config refuses, or two `fleet serve` processes with the same config on one host)
 * would send each other's batches, to the other's receiver, and overwrite each other's files.
 *
 * The owner holds an exclusive lock on `<spool>/.owner.lock`, a SQLite file used only for its lock: the kernel's
 * file lock, taken atomically and released when the process ends however it ends, so a crashed owner never
 * blocks its successor and two processes starting at once cannot both win. SQLite also refuses the lock to a
 * second connection of the same process. `<spool>/.owner` names the owner's pid, for the message only.
 */
import { chmodSync, readFileSync, realpathSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { OutflowError } from '../../src/errors.js';
import { PRIVATE_FILE_MODE } from '../file-modes.js';

const LOCK_FILE = '.owner.lock';
const OWNER_FILE = '.owner';

function ownerPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Make this process the owner of `spoolDir` (which exists); returns the release. Throws when another owner holds it. */
export function claimSpool(spoolDir: string): () => void {
  // the directory itself, however it is reached: a link to a spool is that spool
  const dir = realpathSync.native(spoolDir);
  const lockFile = path.join(dir, LOCK_FILE);
  const ownerFile = path.join(dir, OWNER_FILE);
  const failed = (what: string, err: unknown) => new OutflowError('SINK_FAILED', what, 'check permissions of the webhook spool directory', { cause: err });
  let lock: Database.Database;
  try {
    lock = new Database(lockFile, { timeout: 0 });
  } catch (err) {
    throw failed(`cannot open ${lockFile}`, err);
  }
  try {
    chmodSync(lockFile, PRIVATE_FILE_MODE);
    // the rollback journal in memory: BEGIN EXCLUSIVE then writes nothing to the spool's file system
    lock.pragma('journal_mode = MEMORY');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    lock.close();
    if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') throw failed(`cannot lock ${lockFile}`, err);
    const pid = ownerPid(ownerFile);
    const who = pid === null ? 'another process' : pid === process.pid ? `process ${pid} (another webhook sink of this process)` : `process ${pid}`;
    throw new OutflowError('CONFIG_INVALID', `webhook spool ${dir} is in use by ${who}`, 'give each webhook sink, and each fleet serve instance on this host, a spool_dir of its own', { cause: err });
  }
  try {
    writeFileSync(ownerFile, `${process.pid}\n`, { mode: PRIVATE_FILE_MODE });
  } catch (err) {
    lock.close();
    throw failed(`cannot write ${ownerFile}`, err);
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (ownerPid(ownerFile) === process.pid) {
      try {
        unlinkSync(ownerFile);
      } catch {
        // already gone
      }
    }
    lock.close();
  };
}
