/**
 * The fast path must never reject a line the full parse would make a row of, whatever copies of credential stores are
 * followed: generated histories of clones, renames and hard links of tier-1 files and folders, then events at the
 * copies (and near them) in many spellings, go through the normal pipeline and one that parses every line, in step.
 */
import { describe, expect, it } from 'vitest';
import { body, esLine, type ProcSpec } from './testing/es-lines.mjs';
import { pipelineWorld } from './testing/test-context.js';

const NOW = 1_772_500_000;
const HOME = '/Users/alice';
const COOKIES = `${HOME}/Library/Cookies/Cookies.binarycookies`;
const KEYCHAINS = `${HOME}/Library/Keychains`;
const finder: ProcSpec = { pid: 400, ppid: 1, path: '/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder', platform: true, signingId: 'com.apple.finder', startMs: (NOW - 80_000) * 1000 };
const ditto: ProcSpec = { pid: 831, ppid: 830, path: '/usr/bin/ditto', platform: true, signingId: 'com.apple.ditto', startMs: (NOW - 70) * 1000 };
const stealer: ProcSpec = { pid: 700, ppid: 1, path: `${HOME}/.local/bin/helper`, signingId: null, teamId: null, startMs: (NOW - 3000) * 1000 };

/** A small deterministic generator (an LCG), so a failure names its round. */
function random(seed: number) {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff) / 0x80000000);
  return { next, pick: <T>(a: readonly T[]): T => a[Math.floor(next() * a.length)]! };
}

const DESTINATIONS = ['/private/tmp/s', '/tmp/s', '/Users/Shared/x', '/private/var/folders/ab/T/s', `${HOME}/Projects/s`];
const SOURCES: [string, boolean][] = [[COOKIES, false], [KEYCHAINS, true], [`${KEYCHAINS}/login.keychain-db`, false], [`${HOME}/.ssh/id_rsa`, false]];

describe('fast path and full parse agree while copies of credential stores are followed', () => {
  it('on generated histories', () => {
    const r = random(20_261_129);
    const spell = (p: string) => {
      let q = p;
      const k = r.next();
      if (k < 0.15 && q.startsWith('/tmp')) q = `/private${q}`;
      else if (k < 0.3) q = `/System/Volumes/Data${q}`;
      if (r.next() < 0.2) q = q.toUpperCase();
      if (r.next() < 0.1) q = q.replace('/', '//');
      if (r.next() < 0.1) q = `${q}/`;
      return q;
    };
    let gseq = 0;
    const disagreements: string[] = [];
    for (let round = 0; round < 400 && disagreements.length === 0; round++) {
      const fast = pipelineWorld({ now: NOW });
      const every = pipelineWorld({ now: NOW, parseEveryLine: true });
      for (let i = 0, ago = 1000; i < 8; i++, ago -= 5) {
        const kind = r.pick(['clone', 'rename', 'link', 'open', 'open', 'create', 'write', 'close', 'renameFolder', 'renameOnto', 'linkOnto'] as const);
        const [source, isDir] = r.pick(SOURCES);
        const d = r.pick(DESTINATIONS);
        const near = i === 0 ? d : r.pick([`${d}/c`, `${d}/Keychains/login.keychain-db`, d, `${d}/k`, `${d}/c/z`]);
        const p = r.pick([finder, ditto, stealer]);
        const ev = { timeMs: (NOW - ago) * 1000, gseq: ++gseq, process: p };
        let line: string;
        switch (kind) {
          case 'clone': line = esLine({ ...ev, kind: 'clone', body: body.clone(r.pick([source, spell(near)]), spell(d), r.pick(['c', 'Keychains', 'k']), isDir) }); break;
          case 'rename': line = esLine({ ...ev, kind: 'rename', body: body.renameNew(r.pick([source, spell(near)]), spell(r.pick(DESTINATIONS)), 'r', isDir) }); break;
          case 'renameOnto': line = esLine({ ...ev, kind: 'rename', body: body.renameExisting(spell(near), spell(`${r.pick(DESTINATIONS)}/e`), r.next() < 0.5) }); break;
          case 'renameFolder': line = esLine({ ...ev, kind: 'rename', body: body.renameExisting(spell(d), spell(`${r.pick(DESTINATIONS)}/p`), true) }); break;
          case 'link': line = esLine({ ...ev, kind: 'link', body: body.link(r.pick([`${KEYCHAINS}/login.keychain-db`, COOKIES, spell(near)]), spell(d), 'k') }); break;
          case 'linkOnto': {
            const cut = near.lastIndexOf('/');
            line = esLine({ ...ev, kind: 'link', body: body.link('/private/tmp/payload', spell(near.slice(0, cut) || '/'), near.slice(cut + 1)) });
            break;
          }
          case 'create': line = esLine({ ...ev, kind: 'create', body: body.createExisting(spell(near)) }); break;
          case 'write': line = esLine({ ...ev, kind: 'write', body: body.write(spell(near)) }); break;
          case 'close': line = esLine({ ...ev, kind: 'close', body: body.close(spell(near), true) }); break;
          default: line = esLine({ ...ev, kind: 'open', body: body.open(spell(near)) });
        }
        fast.pipeline.handleLine(line);
        every.pipeline.handleLine(line);
        if (fast.sensitiveEvents.toArray().length !== every.sensitiveEvents.toArray().length) {
          disagreements.push(`round ${round}, ${kind}: ${JSON.stringify(JSON.parse(line).event).replace(/"stat":\{[^}]*\},?/g, '')}`);
          break;
        }
      }
    }
    expect(disagreements).toEqual([]);
  });
});
