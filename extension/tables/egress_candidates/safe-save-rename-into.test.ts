/**
 * A Cocoa safe-save (NSDocument, NSFileManager replaceItemAt) writes the new version in
 * /private/var/folders/…/T/TemporaryItems/NSIRD_<app>_…/ and renames it over the document: the only event under
 * ~/Documents is that rename. It reads nothing there, as a clone of a non-sensitive file into a sensitive place
 * (recorded `create`) reads nothing: the app's next sync of the document has no "sensitive access" precursor.
 */
import { describe, expect, it } from 'vitest';
import { recordedSensitive } from '../../collectors/eslogger/testing/test-context.js';
import { body, esLine } from '../../collectors/eslogger/testing/es-lines.mjs';
import { correlate } from './correlate.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const HOME = '/Users/alice';
const APP = { pid: 560, ppid: 1, path: '/Applications/Scrivo.app/Contents/MacOS/Scrivo', signingId: 'com.example.scrivo', teamId: 'ABCDE12345', startMs: (NOW - 7200) * 1000 };
const TMP = '/private/var/folders/zz/abc123/T/TemporaryItems/NSIRD_Scrivo_x1y2';

const recorded = (lines: string[]) => recordedSensitive(NOW, lines);

describe('a document saved by renaming a temporary file over it', () => {
  const at = NOW - 90;
  const saved = () =>
    recorded([
      esLine({ kind: 'create', timeMs: at * 1000, gseq: 1, process: APP, body: body.createNew(TMP, 'Chapter 3.scriv') }),
      esLine({ kind: 'open', timeMs: at * 1000, gseq: 2, process: APP, body: body.open(`${TMP}/Chapter 3.scriv`, 0x602) }),
      esLine({ kind: 'rename', timeMs: at * 1000 + 5, gseq: 3, process: APP, body: body.renameExisting(`${TMP}/Chapter 3.scriv`, `${HOME}/Documents/Chapter 3.scriv`) }),
    ]);

  it('is no AN0990 candidate when the app then syncs 3 MiB to its server', () => {
    const sensitive = saved();
    const world = buildWorld({
      processes: [{ pid: 560, processStart: sensitive[0]?.process_start ?? NOW - 7200, ppid: 1, originalPpid: 1, path: APP.path, signingId: APP.signingId, teamId: APP.teamId }],
      signing: [{ path: APP.path, cls: 'developer_id', teamId: APP.teamId, signingId: APP.signingId }],
      flows: [{ pid: 560, processStart: sensitive[0]?.process_start ?? NOW - 7200, remote: '198.51.100.44', bytesOut: 3 * MiB, bytesIn: 20_000, firstSeen: NOW - 60, lastSeen: NOW - 20 }],
      sensitive,
    });
    expect(correlate(world).rows.filter((r) => r.analytic === 'AN0990')).toEqual([]);
  });

  it('moving a document out of ~/Documents (or within it) still counts as moving the data', () => {
    const out = recorded([esLine({ kind: 'rename', timeMs: at * 1000, gseq: 1, process: APP, body: body.renameNew(`${HOME}/Documents/a.pdf`, '/private/tmp', 'a.pdf') })]);
    expect(out.map((r) => [r.operation, r.file_path])).toEqual([['rename', `${HOME}/Documents/a.pdf`]]);
    const within = recorded([esLine({ kind: 'rename', timeMs: at * 1000, gseq: 1, process: APP, body: body.renameNew(`${HOME}/Documents/a.pdf`, `${HOME}/Desktop`, 'a.pdf') })]);
    expect(within.map((r) => [r.operation, r.file_path])).toEqual([['rename', `${HOME}/Desktop/a.pdf`]]);
  });
});
