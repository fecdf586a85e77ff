// Regenerates fixtures/eslogger-*.jsonl (node extension/collectors/eslogger/testing/make-fixtures.mjs).
// Hand-broken lines (truncation, mismatched event_type, …) are derived from generated ones so the
// fixtures stay in the real format.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { body, esLine, keychainDittoScenario } from './es-lines.mjs';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const base = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
const app = { pid: 5573, ppid: 4419, originalPpid: 4400, responsiblePid: 4419, path: '/Applications/Widget.app/Contents/MacOS/Widget', signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', cdhash: '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953', startMs: base - 208_253 };
const sh = { pid: 812, ppid: 1, path: '/bin/sh', platform: true, signingId: 'com.apple.sh', startMs: base - 5_000, tty: '/dev/ttys001' };
const unsigned = { pid: 9911, ppid: 812, path: '/Users/dana/Downloads/helper', signingId: null, teamId: null, cdhash: '0000000000000000000000000000000000000000', startMs: base - 1_000 };
let g = 90_211;
const L = (version, kind, b, process = app, extra = {}) => esLine({ version, kind, timeMs: base + (g - 90_211) * 7, gseq: g++, process, body: b, ...extra });

const events = [];
for (const v of [9, 10]) {
  events.push(
    L(v, 'open', body.open('/Users/dana/Library/Keychains/login.keychain-db')),
    L(v, 'write', body.write('/Users/dana/Documents/notes.txt')),
    L(v, 'close', body.close('/Users/dana/Documents/notes.txt', true)),
    L(v, 'close', body.close('/Users/dana/Documents/notes.txt', false)),
    L(v, 'create', body.createExisting('/private/tmp/out.zip')),
    L(v, 'create', body.createNew('/Users/dana/Desktop', 'new file.txt')),
    L(v, 'rename', body.renameNew('/Users/dana/Documents/.draft.tmp', '/Users/dana/Documents', 'draft.docx')),
    L(v, 'rename', body.renameExisting('/Users/dana/Documents/a.tmp', '/Users/dana/Documents/a.txt')),
    L(v, 'exec', body.exec({ ...sh, pid: 813, ppid: 812, path: '/usr/bin/zip', signingId: 'com.apple.zip', startMs: base - 10 }, ['zip', '-r', 'out.zip', 'Documents'], '/Users/dana', v), sh),
    L(v, 'fork', body.fork({ ...sh, pid: 814, startMs: base }, v), sh),
    L(v, 'exit', body.exit(256), { ...sh, pid: 814, startMs: base }),
  );
}
writeFileSync(path.join(dir, 'eslogger-events.jsonl'), events.join('\n') + '\n');

const tricky = [
  // newline, quote and unicode inside a path (JSON escapes them; the raw line has no raw newline)
  L(10, 'open', body.open('/Users/dana/Documents/line\nbreak "quoted" résumé 日本.txt')),
  // path_truncated: ES cut a ~16 KB path
  L(10, 'open', { fflag: 1, file: { path: `/Users/dana/Documents/${'deep/'.repeat(40)}`, path_truncated: true } }),
  // unsigned process: all-zero cdhash, no signing id
  L(10, 'open', body.open('/Users/dana/.ssh/id_ed25519'), unsigned),
  // an event kind we did not ask for
  L(10, 'unlink', { target: { path: '/tmp/x', path_truncated: false }, parent_dir: { path: '/tmp', path_truncated: false } }),
  // event_type disagrees with the event key (14 = exchangedata, seen in bad fixtures for close)
  L(10, 'close', body.close('/Users/dana/Documents/notes.txt', true), app, { eventType: 14 }),
];
const whole = L(10, 'open', body.open('/Users/dana/Library/Keychains/login.keychain-db'));
tricky.push(whole.slice(0, Math.floor(whole.length * 0.6))); // truncated mid-line (eslogger killed)
tricky.push('{"schema_version":1,"version":10,"event":{"open":{}}}'); // missing process and time
tricky.push('not json at all');
tricky.push(L(9, 'open', body.open('/Users/dana/Library/Keychains/login.keychain-db')).replace('"start_time":"', '"start_time":"yesterday '));
writeFileSync(path.join(dir, 'eslogger-tricky.jsonl'), tricky.join('\n') + '\n');

writeFileSync(path.join(dir, 'eslogger-scenario-keychain-ditto.jsonl'), keychainDittoScenario(base).join('\n') + '\n');
