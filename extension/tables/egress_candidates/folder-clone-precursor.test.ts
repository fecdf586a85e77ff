/**
 * A stealer that clones a whole folder of secrets (clonefile(2) of ~/Library/Keychains to /tmp: one ES clone event,
 * no open of any file inside) and uploads the copy: the clone of the folder is the precursor of its upload.
 */
import { expect, it } from 'vitest';
import { recordedSensitive } from '../../collectors/eslogger/testing/test-context.js';
import { body, esLine } from '../../collectors/eslogger/testing/es-lines.mjs';
import { correlate } from './correlate.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const HOME = '/Users/alice';
const STEALER = { pid: 700, ppid: 1, path: `${HOME}/.local/bin/helper`, signingId: null, teamId: null, startMs: (NOW - 300) * 1000 };

it('a clone of ~/Library/Keychains to /private/tmp followed by an upload from the same process is an AN0990 candidate', () => {
  const sensitive = recordedSensitive(NOW, [esLine({ kind: 'clone', timeMs: (NOW - 90) * 1000, gseq: 1, process: STEALER, body: body.clone(`${HOME}/Library/Keychains`, '/private/tmp', 'k', true) })]);
  const start = sensitive[0]?.process_start ?? NOW - 300;
  const world = buildWorld({
    processes: [{ pid: 700, processStart: start, ppid: 1, path: STEALER.path, tty: false }],
    signing: [{ path: STEALER.path, cls: 'unsigned' }],
    flows: [{ pid: 700, processStart: start, remote: '203.0.113.5', bytesOut: 15 * MiB, bytesIn: 8000, firstSeen: NOW - 60, lastSeen: NOW - 30 }],
    sensitive,
  });
  const rows = correlate(world).rows.filter((r) => r.analytic === 'AN0990');
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ pid: 700, remote_address: '203.0.113.5', precursor_path: `${HOME}/Library/Keychains`, precursor_category: 'keychain', precursor_tier: 1 });
  expect(rows[0]!.reasons.split(',')).toContain('precursor_close');
});
