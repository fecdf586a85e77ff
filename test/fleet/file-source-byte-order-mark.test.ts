/**
 * A result log that starts with a UTF-8 byte-order mark (a file saved by an editor or a Windows tool) is read like
 * the same bytes on stdin or in a POST /v1/ingest body, which drop the mark: its first line is a result line, not
 * a line quarantined as "not JSON".
 */
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, expect, it } from 'vitest';
import { ingestFile } from '../../fleet/ingest/file-source.js';
import { ingestStream } from '../../fleet/ingest/stream-source.js';
import { lineAt, setupFileSource } from './file-source-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-bom-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

it('drops a byte-order mark at the start of a file, as stdin does', async () => {
  const bytes = Buffer.concat([BOM, Buffer.from(`${lineAt(0)}\n${lineAt(1)}\n`)]);

  const piped = await setupFileSource(dir, 'unused.log');
  const fromStdin = await ingestStream(Readable.from([bytes]), { ingest: piped.ingest });
  expect(fromStdin.quarantined).toBe(0);

  const { file, store, ingest } = await setupFileSource(dir, 'bom.log');
  writeFileSync(file, bytes);
  const r = await ingestFile(file, { ingest, store });
  expect({ lines: r.lines, accepted: r.accepted, quarantined: r.quarantined }).toEqual({ lines: 2, accepted: 2, quarantined: 0 });

  // resumed past the mark: only the new line is read, and the checkpoint still describes the file
  appendFileSync(file, `${lineAt(2)}\n`);
  const again = await ingestFile(file, { ingest, store });
  expect({ lines: again.lines, accepted: again.accepted, quarantined: again.quarantined }).toEqual({ lines: 1, accepted: 1, quarantined: 0 });
});

it('drops it from a first line that has no line end yet (read whole at the end of input)', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'bom-unterminated.log');
  writeFileSync(file, Buffer.concat([BOM, Buffer.from(lineAt(0))]));
  const r = await ingestFile(file, { ingest, store, endOfInput: true });
  expect({ lines: r.lines, accepted: r.accepted, quarantined: r.quarantined }).toEqual({ lines: 1, accepted: 1, quarantined: 0 });
});
