/**
 * Apps move their own folders in ~/Library/Application Support (a migration to a new name, a reset that sets the old
 * data aside, an uninstaller or `brew uninstall --zap` moving it to the Trash): one rename of the folder. A folder no
 * rule names is no move of secrets, and one a rule names is judged with that rule's authorized readers; neither may
 * make the app's next sync an AN0990 candidate.
 */
import { describe, expect, it } from 'vitest';
import { recordedSensitive } from '../../collectors/eslogger/testing/test-context.js';
import { body, esLine, type ProcSpec } from '../../collectors/eslogger/testing/es-lines.mjs';
import { correlate } from './correlate.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const HOME = '/Users/alice';
const AS = `${HOME}/Library/Application Support`;
const APP: ProcSpec = { pid: 560, ppid: 1, path: '/Applications/Scrivo.app/Contents/MacOS/Scrivo', signingId: 'com.example.scrivo', teamId: 'ABCDE12345', startMs: (NOW - 7200) * 1000 };
const SIGNAL: ProcSpec = { pid: 570, ppid: 1, path: '/Applications/Signal.app/Contents/MacOS/Signal', signingId: 'org.whispersystems.signal-desktop', teamId: 'U68MSDN6DR', startMs: (NOW - 7200) * 1000 };

const recorded = (lines: string[]) => recordedSensitive(NOW, lines);
const moveDir = (p: ProcSpec, source: string, dir: string, name: string) =>
  esLine({ kind: 'rename', timeMs: (NOW - 90) * 1000, gseq: 1, process: p, body: body.renameNew(source, dir, name, true) });

describe('an app moving its own folder in Application Support', () => {
  it('Scrivo setting its data aside (Scrivo → Scrivo.old) records nothing', () => {
    expect(recorded([moveDir(APP, `${AS}/Scrivo`, AS, 'Scrivo.old')])).toEqual([]);
  });

  it('…so its next 3 MiB sync to its server is no AN0990 candidate', () => {
    const sensitive = recorded([moveDir(APP, `${AS}/Scrivo`, AS, 'Scrivo.old')]);
    const start = sensitive[0]?.process_start ?? NOW - 7200;
    const world = buildWorld({
      processes: [{ pid: 560, processStart: start, ppid: 1, originalPpid: 1, path: APP.path, signingId: APP.signingId!, teamId: APP.teamId! }],
      signing: [{ path: APP.path, cls: 'developer_id', teamId: APP.teamId!, signingId: APP.signingId! }],
      flows: [{ pid: 560, processStart: start, remote: '198.51.100.44', bytesOut: 3 * MiB, bytesIn: 20_000, firstSeen: NOW - 60, lastSeen: NOW - 20 }],
      sensitive,
    });
    expect(correlate(world).rows.filter((r) => r.analytic === 'AN0990')).toEqual([]);
  });

  it('an uninstaller moving ~/Library/Application Support/Scrivo to the Trash records nothing', () => {
    expect(recorded([moveDir(APP, `${AS}/Scrivo`, `${HOME}/.Trash`, 'Scrivo')])).toEqual([]);
  });

  it('Signal moving its own Signal folder is authorized, as its reads of the files in it are', () => {
    expect(recorded([moveDir(SIGNAL, `${AS}/Signal`, AS, 'Signal.bak')])).toEqual([]);
  });

  it('another process moving the Signal folder is a messaging move (the rule that names it), not a crypto wallet', () => {
    const rows = recorded([moveDir(APP, `${AS}/Signal`, '/private/tmp', 's')]);
    expect(rows.map((r) => [r.operation, r.file_path, r.category, r.tier])).toEqual([['rename', `${AS}/Signal`, 'messaging', 1]]);
  });
});
