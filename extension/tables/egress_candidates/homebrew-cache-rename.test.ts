/**
 * Homebrew's downloads are no archive precursors. Homebrew's CurlDownloadStrategy has curl write
 * `<cache>/downloads/<sha>--Foo-1.0.dmg.incomplete`, then brew's Ruby renames it to `…--Foo-1.0.dmg`
 * (`temporary_path.rename(cached_location)`). A rename onto an archive name is an archive `create` (docs/analytics.md,
 * Precursor), here of the Ruby process, not of the curl that downloaded the file, so the download's own-archive
 * exclusion could not apply: in `brew install --cask foo bar` (or any `brew upgrade` that fetches several casks and
 * bottles), every download after the first had an archive precursor a few seconds old, and AN1415 (any precursor)
 * fired on a rare vendor host, high by the close precursor. A rename that ends a download (the source is the
 * destination's name plus an in-progress suffix) is no archive step now.
 */
import { describe, expect, it } from 'vitest';
import { pipelineWorld } from '../../collectors/eslogger/testing/test-context.js';
import { body, esLine } from '../../collectors/eslogger/testing/es-lines.mjs';
import { correlate } from './correlate.js';
import { MiB, NOW, TERMINAL, TERMINAL_SIGNING, ZSH, buildWorld } from './testing/world.js';

const HOME = '/Users/alice';
const DOWNLOADS = `${HOME}/Library/Caches/Homebrew/downloads`;
const RUBY = '/opt/homebrew/Library/Homebrew/vendor/portable-ruby/3.3.7/bin/ruby';

describe('`brew install --cask foo bar` from a Terminal tab', () => {
  const ruby = { pid: 840, ppid: 810, path: RUBY, signingId: 'ruby', teamId: null, startMs: (NOW - 120) * 1000, tty: '/dev/ttys001' };
  const { pipeline, archiveEvents } = pipelineWorld({ now: NOW });
  // foo's download is complete: brew renames curl's .incomplete file to the cached name
  pipeline.handleLine(
    esLine({ kind: 'rename', timeMs: (NOW - 90) * 1000, gseq: 1, process: ruby, body: body.renameNew(`${DOWNLOADS}/3f2a--Foo-1.0.dmg.incomplete`, DOWNLOADS, '3f2a--Foo-1.0.dmg') }),
  );
  const archives = archiveEvents.toArray();
  const rubyStart = archives[0]?.process_start ?? NOW - 120;

  it("the rename that completes foo's download is no archive event", () => {
    expect(archives).toEqual([]);
  });

  it("brew's link to the cached file (Cask/foo--1.0.dmg, a bottle's short name) is none either: Homebrew's cache", () => {
    const w = pipelineWorld({ now: NOW });
    const at = (NOW - 89) * 1000;
    w.pipeline.handleLine(esLine({ kind: 'create', timeMs: at, gseq: 2, process: ruby, body: body.createExisting(`${HOME}/Library/Caches/Homebrew/Cask/foo--1.0.dmg`) }));
    w.pipeline.handleLine(esLine({ kind: 'create', timeMs: at, gseq: 3, process: ruby, body: body.createExisting(`${HOME}/Library/Caches/Homebrew/wget--1.25.0.arm64_sonoma.bottle.tar.gz`) }));
    expect(w.archiveEvents.toArray()).toEqual([]);
    // outside it, the same process writing an archive name is an archive step
    w.pipeline.handleLine(esLine({ kind: 'create', timeMs: at, gseq: 4, process: ruby, body: body.createExisting(`${HOME}/Library/Caches/Homebrew-not/x.zip`) }));
    w.pipeline.handleLine(esLine({ kind: 'create', timeMs: at, gseq: 5, process: ruby, body: body.createExisting('/tmp/.x/loot.tar.gz') }));
    expect(w.archiveEvents.toArray().map((a) => a.archive_path)).toEqual([`${HOME}/Library/Caches/Homebrew-not/x.zip`, '/tmp/.x/loot.tar.gz']);
  });

  it('a rename that completes a download elsewhere is none (rclone copy: backup.tar.gz.partial → backup.tar.gz)', () => {
    const w = pipelineWorld({ now: NOW });
    const at = (NOW - 60) * 1000;
    w.pipeline.handleLine(esLine({ kind: 'rename', timeMs: at, gseq: 1, process: ruby, body: body.renameNew(`${HOME}/Downloads/backup.tar.gz.partial`, `${HOME}/Downloads`, 'backup.tar.gz') }));
    w.pipeline.handleLine(esLine({ kind: 'rename', timeMs: at, gseq: 2, process: ruby, body: body.renameNew(`${HOME}/Downloads/Setup.DMG.PART`, `${HOME}/Downloads`, 'Setup.DMG') }));
    expect(w.archiveEvents.toArray()).toEqual([]);
  });

  it('a rename onto an archive name from another name still is one (an in-process archiver writing a temporary file)', () => {
    const w = pipelineWorld({ now: NOW });
    const at = (NOW - 60) * 1000;
    w.pipeline.handleLine(esLine({ kind: 'rename', timeMs: at, gseq: 1, process: ruby, body: body.renameNew('/tmp/.x/loot.zip.tmp', '/tmp/.x', 'loot.zip') }));
    w.pipeline.handleLine(esLine({ kind: 'rename', timeMs: at, gseq: 2, process: ruby, body: body.renameNew('/tmp/.x/a.part', '/tmp/.x', 'loot2.zip') }));
    w.pipeline.handleLine(esLine({ kind: 'rename', timeMs: at, gseq: 3, process: ruby, body: body.renameNew('/tmp/.x/loot3.zip.part.tmp', '/tmp/.x', 'loot3.zip') }));
    expect(w.archiveEvents.toArray().map((a) => a.archive_path)).toEqual(['/tmp/.x/loot.zip', '/tmp/.x/loot2.zip', '/tmp/.x/loot3.zip']);
  });

  it("bar's download (curl, started by brew) 10 s later is no AN1415 candidate (it was: high on a rare vendor host)", () => {
    const world = buildWorld({
      processes: [
        TERMINAL,
        ZSH,
        { pid: 840, processStart: rubyStart, ppid: 810, path: RUBY, signingId: 'ruby', cdhash: 'AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12' },
        { pid: 842, processStart: NOW - 85, ppid: 840, path: '/usr/bin/curl', signingId: 'com.apple.curl', platformBinary: true },
      ],
      signing: [...TERMINAL_SIGNING, { path: RUBY, cls: 'adhoc', signingId: 'ruby', cdhash: 'ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12' }],
      flows: [{ pid: 842, processStart: NOW - 85, remote: '198.51.100.70', bytesOut: 60_000, bytesIn: 60 * MiB, firstSeen: NOW - 80, lastSeen: NOW - 20 }],
      archive: archives,
    });
    const rows = correlate(world).rows.filter((r) => r.analytic === 'AN1415');
    expect(rows).toEqual([]);
  });
});
