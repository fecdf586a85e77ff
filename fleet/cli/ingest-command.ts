/**
 * `outflow fleet ingest FILE…|-`: every file from its checkpoint to EOF (or stdin), then one
 * finalization pass. On a TTY a progress bar shows bytes and lines/s; otherwise a summary is printed.
 * Exit codes: 0 ok, 1 a file failed while read (or the store), EXIT_NOTHING_USABLE when lines were read but none
 * of them was Outflow data (every one quarantined, or of queries that are not Outflow's).
 */
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { SingleBar, Presets } from 'cli-progress';
import type { OutflowConfig } from '../../src/config/index.js';
import type { Logger } from '../../src/log.js';
import { coerceError, OutflowError } from '../../src/errors.js';
import { ingestFile, readAsStream, restartedFromZero, statFile, type FileStart } from '../ingest/file-source.js';
import { addIngestResults, createIngestService, emptyIngestResult, type IngestResult } from '../ingest/ingest-service.js';
import { ingestStream } from '../ingest/stream-source.js';
import { finalizePending, type FinalizeResult } from '../rules/finalize.js';
import { withJobLockWaiting, type Store } from '../store/store.js';
import { writeOut } from '../../src/stdout.js';

export interface IngestCommandOptions {
  config: OutflowConfig;
  log: Logger;
  finalize: boolean;
  flush: boolean;
  fromStart: boolean;
  json: boolean;
  progress: 'auto' | 'always' | 'never';
  /** How long to wait for another process's finalize (default 60 s); then the candidates are left pending. */
  finalizeWaitMs?: number;
}

/** Lines were read, but not one row of Outflow's queries was among them (documented in docs/fleet.md, CLI). */
export const EXIT_NOTHING_USABLE = 3;

/** Names shown for the rows of other queries (of the MAX_IGNORED_QUERY_NAMES the ingest service keeps). */
const SHOWN_IGNORED_NAMES = 5;

/** Where the query-name rule is documented, for the messages below. */
const NAME_RULE =
  "Outflow reads the queries named outflow_candidates, outflow_destinations, outflow_apps and outflow_status: the whole name, or its end after a '/' or '_' (pack/Global/outflow_apps, pack_outflow_outflow_apps); other queries count only as host activity (docs/fleet.md, Input lines)";

/**
 * The line naming the rows of other queries, or null when there were none. `sharedLog`: Outflow's rows were among
 * them, or the files were read on from their offsets: other packs writing to the same log, nothing to fix, unless
 * a name says outflow (a report of Outflow's pack renamed in Fleet).
 */
export function ignoredQueriesNote(totals: IngestResult, sharedLog = false): string | null {
  const rows = totals.ignoredByReason.other_query;
  if (!rows) return null;
  const top = [...totals.ignoredQueries].sort((a, b) => b.rows - a.rows).slice(0, SHOWN_IGNORED_NAMES);
  const shown = top.reduce((n, q) => n + q.rows, 0);
  const names = `${top.map((q) => `${JSON.stringify(q.name)} (${q.rows})`).join(', ')}${shown < rows ? `, and ${rows - shown} rows of other names` : ''}`;
  if (sharedLog && !totals.ignoredQueries.some((q) => /outflow/i.test(q.name))) return `${rows} rows ignored are of other queries (other packs logging to the same file): ${names}.`;
  return `${rows} rows ignored are of queries that are not Outflow's: ${names}. ${NAME_RULE}: keep the pack's query names when scheduling it (a report renamed in Fleet is not read), and check that these are the logs meant.`;
}

/**
 * Whether lines were read but none was usable: every one quarantined (now, or on an earlier read: a re-delivered
 * reject), or of queries that are not Outflow's. Removed rows, empty lines and re-delivered candidate rows are
 * Outflow's data, already taken or with nothing to take.
 */
export function nothingUsable(totals: IngestResult): boolean {
  return totals.lines > 0 && totals.accepted === totals.ignoredByReason.other_query && totals.duplicates === totals.duplicateRejects;
}

export async function runIngestCommand(store: Store, files: string[], opts: IngestCommandOptions): Promise<number> {
  const fleet = opts.config.fleet;
  const ingest = createIngestService({
    store,
    analytics: opts.config.analytics,
    quarantineFile: fleet.ingest.quarantine_file || null,
    maxLineBytes: fleet.ingest.max_line_bytes,
    maxQuarantinePerBatch: fleet.ingest.max_quarantine_per_batch,
    maxQuarantineBytesPerBatch: fleet.ingest.max_quarantine_bytes_per_batch,
    sharedSuffixes: fleet.ingest.shared_suffixes,
    log: opts.log,
  });
  const showBar = opts.progress === 'always' || (opts.progress === 'auto' && Boolean(process.stderr.isTTY));
  let totalBytes = 0;
  for (const f of files) if (f !== '-') totalBytes += (await stat(f).catch(() => ({ size: 0 }))).size;
  const bar = showBar
    ? new SingleBar(
        {
          format: 'ingest [{bar}] {percentage}% | {lines} lines | {rate} lines/s | {eta_formatted} left',
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 50,
          // --progress always: draw even when stderr is not a terminal (logs, CI).
          noTTYOutput: opts.progress === 'always',
          notTTYSchedule: 500,
        },
        Presets.shades_classic,
      )
    : null;
  const started = performance.now();
  const totals = emptyIngestResult();
  let doneBytes = 0;
  const tick = () => {
    if (!bar) return;
    const secs = (performance.now() - started) / 1000;
    bar.update(doneBytes, { lines: totals.lines, rate: secs > 0 ? Math.round(totals.lines / secs) : 0 });
  };
  bar?.start(Math.max(totalBytes, 1), 0, { lines: 0, rate: 0 });

  let failed = 0;
  /** Files whose checkpoint was not followed (printed once the bar is gone), and files resumed at their end. */
  const restarted: string[] = [];
  const upToDate: FileStart[] = [];
  /** Files read on from a stored offset: lines of other packs alone are then an ordinary increment of a shared log. */
  let resumed = 0;
  const unfinished: string[] = [];
  /** The rotations read before the file when the checkpoint's own file was not found. */
  const between = (s: FileStart) =>
    s.rotatedBetween
      ? `${s.reason === 'replaced' ? ' (or rotated away and its inode reused)' : ''}; the ${s.rotatedBetween.length === 1 ? 'file' : 'files'} rotated after it, ${s.rotatedBetween.join(', ')}, ${s.rotatedBetween.length === 1 ? 'was' : 'were'} read first`
      : '';
  const onStart = (s: FileStart) => {
    if (s.reason === 'resumed' && s.offset > 0) resumed++;
    if (s.reason === 'resumed' && s.offset === s.size) upToDate.push(s);
    if (!restartedFromZero(s.reason)) return;
    const why =
      s.reason === 'replaced'
        ? `is not the file its stored offset was taken on (${s.detail}): rewritten in place, same inode${between(s)}`
        : s.reason === 'truncated'
          ? `is shorter (${s.size} bytes) than its stored offset: truncated`
          : s.reason === 'rotated'
            ? s.rotatedFrom
              ? `is another file (inode) than the one its stored offset was taken on: rotated; the rest of that file, ${s.rotatedFrom.file}, was read first from offset ${s.rotatedFrom.offset}${s.rotatedBetween ? `, then the ${s.rotatedBetween.length === 1 ? 'file' : 'files'} rotated after it, ${s.rotatedBetween.join(', ')}` : ''}`
              : `is another file (inode) than the one its stored offset was taken on, which is no longer beside it: rotated${between(s)}`
            : 'has a stored offset this version cannot read';
    restarted.push(`outflow fleet ingest: ${s.file} ${why}; read from the start\n`);
  };
  try {
    for (const f of files) {
      // a named pipe (`<(zcat osqueryd.results.log.2.gz)`) is read like stdin: to its end, without offsets
      const st = f === '-' ? null : statFile(f);
      const piped = st !== null && typeof st !== 'string' && readAsStream(st);
      if (f === '-' || piped) {
        let input: Readable = process.stdin;
        if (piped) {
          try {
            // waits for a writer, as stdin does
            input = (await open(f, 'r')).createReadStream();
          } catch (err) {
            failed++;
            bar?.stop();
            process.stderr.write(`outflow fleet ingest: cannot read ${f}: ${coerceError(err).message}\n`);
            continue;
          }
        }
        const r = await ingestStream(input, {
          ...(piped ? { kind: 'pipe', id: f } : {}),
          ingest,
          batchLines: fleet.ingest.batch_lines,
          maxLineBytes: fleet.ingest.max_line_bytes,
          onBatch: (b) => {
            addIngestResults(totals, b);
            tick();
          },
        });
        void r;
        continue;
      }
      let fileDone = 0;
      try {
        await ingestFile(f, {
          ingest,
          store,
          fromStart: opts.fromStart,
          log: opts.log,
          onStart,
          endOfInput: opts.flush,
          onUnfinishedLine: (u) =>
            unfinished.push(`outflow fleet ingest: ${u.file}: its last line (${u.bytes} bytes at offset ${u.offset}) has no line end yet and is not whole JSON: left for the next run (osquery may be writing it; --flush reads it as is)\n`),
          maxLineBytes: fleet.ingest.max_line_bytes,
          onBatch: ({ offset, result }) => {
            addIngestResults(totals, result);
            doneBytes += offset - fileDone;
            fileDone = offset;
            tick();
          },
        });
      } catch (err) {
        // One unreadable file does not stop the others; the exit code says something failed.
        if ((err as { code?: string }).code !== 'INPUT_INVALID') throw err;
        failed++;
        bar?.stop();
        process.stderr.write(`outflow fleet ingest: ${(err as Error).message}\n`);
      }
    }
  } finally {
    bar?.stop();
  }
  for (const line of [...restarted, ...unfinished]) process.stderr.write(line);
  const ingestSeconds = (performance.now() - started) / 1000;

  let fin: FinalizeResult | null = null;
  let finalizeSkipped: string | null = null;
  if (opts.finalize) {
    // Not while a fleet serve on this store finalizes: detection upserts are last-writer-wins (see withJobLockWaiting).
    try {
      fin = await withJobLockWaiting(store, 'finalize', () => finalizePending(store, { analytics: opts.config.analytics, flush: opts.flush, log: opts.log }), {
        onWait: () => process.stderr.write('outflow fleet ingest: another process (fleet serve?) is finalizing this store; waiting for it\n'),
        ...(opts.finalizeWaitMs !== undefined ? { waitMs: opts.finalizeWaitMs } : {}),
      });
    } catch (err) {
      // The lines are committed: report them, and leave the candidates to the process that holds the lock.
      if (!(err instanceof OutflowError && err.code === 'JOB_BUSY')) throw err;
      finalizeSkipped = err.toUserMessage();
    }
  }
  const pending = await store.candidates.countPending();

  const summary = {
    files: files.length,
    failed_files: failed,
    ...totals,
    seconds: Number(ingestSeconds.toFixed(3)),
    lines_per_second: ingestSeconds > 0 ? Math.round(totals.lines / ingestSeconds) : totals.lines,
    finalized: fin ? { cutoff: fin.cutoff, examined: fin.examined, fired: fin.fired, created: fin.created.length, updated: fin.updated.length, warming: fin.warming, late: fin.late } : null,
    ...(finalizeSkipped ? { finalize_skipped: finalizeSkipped } : {}),
    pending,
    store: store.location,
  };
  const ignoredNote = ignoredQueriesNote(totals, totals.accepted > totals.ignored || resumed > 0);
  const q = fleet.ingest.quarantine_file;
  if (opts.json) writeOut(JSON.stringify(summary));
  else {
    process.stderr.write(
      [
        // `accepted` counts ignored rows too: "applied" are the rows that had an effect beyond host activity
        `ingested ${totals.lines} lines (${totals.accepted - totals.ignored} rows applied, ${totals.baseline} of them baseline; ${totals.ignored} rows ignored; ${totals.duplicates} duplicate candidate/rejected rows skipped; ${totals.quarantined} quarantined${totals.quarantined && q ? ` → ${q}` : ''}) in ${ingestSeconds.toFixed(1)} s, ${summary.lines_per_second} lines/s`,
        ...(ignoredNote ? [ignoredNote] : []),
        fin
          ? `finalized ${fin.examined} candidates: ${fin.created.length} new detections, ${fin.updated.length} updated${fin.warming ? `, ${fin.warming} held (baseline warming${fin.late ? `; ${fin.late} of them late: their window reaches back before the data this store keeps; replaying the whole fleet's logs of that time into a new store judges them, one host's logs alone cannot` : ''})` : ''}; ${pending} pending`
          : `${pending} candidates pending (not finalized${finalizeSkipped ? `: ${finalizeSkipped}` : ''})`,
      ].join('\n') + '\n',
    );
  }
  if (totals.lines === 0 && upToDate.length) {
    const names = upToDate.length === 1 ? upToDate[0]!.file : `${upToDate.length} files`;
    process.stderr.write(
      `outflow fleet ingest: nothing new: ${names} ${upToDate.length === 1 ? 'was' : 'were'} already ingested up to ${upToDate.length === 1 ? 'its' : 'their'} stored offset (the whole file); --from-start reads ${upToDate.length === 1 ? 'it' : 'them'} again (rows already ingested change nothing: candidates count as duplicates while retention keeps them, the rest merge again)\n`,
    );
  }
  if (failed) return 1;
  // A file read on from its offset: osquery logs nothing for a differential query without changes, so an increment of
  // a log shared with other packs may hold none of Outflow's rows.
  if (nothingUsable(totals) && resumed === 0) {
    // said even with --json (stdout holds the summary): exit 0 and "N rows" read as success
    const rejected = totals.quarantined + totals.duplicateRejects;
    // a re-read (--from-start) quarantines nothing again: its rejects are duplicates of the first read's
    const earlier = totals.duplicateRejects ? `${totals.duplicateRejects} rows or lines by an earlier read of the same lines, not again` : '';
    const why =
      totals.ignoredByReason.other_query === 0
        ? `every line read (${totals.lines}) was quarantined${earlier ? ` (${earlier})` : ''}${q ? `, reasons in ${q}` : ''}: is this an osquery result log, one JSON result line per line?`
        : `the ${totals.lines} lines read hold no row of Outflow's queries (${totals.ignoredByReason.other_query} rows of other queries${rejected ? `; ${rejected} lines or rows quarantined${earlier ? `, ${earlier}` : ''}` : ''})${opts.json ? `. ${ignoredNote}` : ': see above'}`;
    process.stderr.write(`outflow fleet ingest: warning: nothing usable: ${why} (exit ${EXIT_NOTHING_USABLE})\n`);
    return EXIT_NOTHING_USABLE;
  }
  return 0;
}
