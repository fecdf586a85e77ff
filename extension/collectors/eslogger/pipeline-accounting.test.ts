import { describe, expect, it } from 'vitest';
import { pipelineWorld } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';

const T = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
const S = Math.floor(T / 1000);

const setup = (opts: { capacity?: number; retention?: number; now?: number } = {}) => pipelineWorld({ ...opts, now: opts.now ?? S + 10 });
const proc = { pid: 50, ppid: 1, path: '/usr/local/bin/exfil', signingId: null, teamId: null, startMs: T - 5000 };
const open = (gseq: number, file: string, ms = 0) => esLine({ kind: 'open', timeMs: T + ms, gseq, process: proc, body: body.open(file) });

describe('EsloggerPipeline accounting at the edges', () => {
  it('counts a gap right after a new client\'s first event numbered 0', () => {
    const { pipeline } = setup();
    pipeline.handleLine(open(0, '/usr/lib/a'));
    pipeline.handleLine(open(3, '/usr/lib/a')); // 1 and 2 lost
    expect(pipeline.stats.lost).toBe(2);
  });

  it('a repeat exactly the dedupe window (60 s) after the first read is a row of its own', () => {
    const { pipeline, sensitiveEvents } = setup();
    pipeline.handleLine(open(1, '/Users/x/.ssh/id_rsa', 0));
    pipeline.handleLine(open(2, '/Users/x/.ssh/id_rsa', 59_000));
    pipeline.handleLine(open(3, '/Users/x/.ssh/id_rsa', 60_000));
    expect(sensitiveEvents.toArray().map((r) => r.time)).toEqual([S, S + 60]);
    expect(pipeline.stats.deduplicated).toBe(1);
  });

  it('rows that aged out make room before a new one: no eviction is counted for them', () => {
    const { pipeline, sensitiveEvents, archiveEvents, clock } = setup({ capacity: 3, retention: 100, now: S });
    for (let i = 0; i < 3; i++) pipeline.handleLine(open(i + 1, `/Users/x/Documents/f${i}.txt`));
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T, gseq: 4, process: proc, body: body.createNew('/Users/Shared', 'a.zip') }));
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T, gseq: 5, process: proc, body: body.createNew('/Users/Shared', 'b.zip') }));
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T, gseq: 6, process: proc, body: body.createNew('/Users/Shared', 'c.zip') }));
    clock.now = S + 200;
    pipeline.handleLine(open(7, '/Users/x/Documents/late.txt', 200_000));
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T + 200_000, gseq: 8, process: proc, body: body.createNew('/Users/Shared', 'late.zip') }));
    expect(sensitiveEvents.toArray().map((r) => r.file_path)).toEqual(['/Users/x/Documents/late.txt']);
    expect(archiveEvents.toArray().map((r) => r.archive_path)).toEqual(['/Users/Shared/late.zip']);
    expect(pipeline.stats.evicted).toBe(0);
  });

  it('counts archive rows pushed out of a full buffer as evicted', () => {
    const { pipeline, archiveEvents } = setup({ capacity: 3, retention: 1800 });
    for (const [i, name] of ['a.zip', 'b.tar.gz', 'c.7z', 'd.dmg', 'e.zip'].entries()) {
      pipeline.handleLine(esLine({ kind: 'create', timeMs: T + i * 1000, gseq: i + 1, process: proc, body: body.createNew('/Users/Shared', name) }));
    }
    expect(archiveEvents.toArray().map((r) => r.archive_path)).toEqual(['/Users/Shared/c.7z', '/Users/Shared/d.dmg', '/Users/Shared/e.zip']);
    expect(pipeline.stats).toMatchObject({ archiveRows: 5, evicted: 2 });
  });
});
