/** eslogger lines once mis-read: Arc's cookies, SSH keys by other names, decompressors ES reports by their target. */
import { describe, expect, it } from 'vitest';
import { pipelineWorld } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';

const T = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
const S = Math.floor(T / 1000);
const setup = () => pipelineWorld({ now: S + 10 });
const stealer = { pid: 50, ppid: 1, path: '/Users/dana/.local/bin/helper', signingId: null, teamId: null, startMs: T - 5000 };
const openRow = (path: string) => {
  const { pipeline, sensitiveEvents } = setup();
  pipeline.handleLine(esLine({ kind: 'open', timeMs: T, gseq: 1, process: stealer, body: body.open(path) }));
  return sensitiveEvents.toArray()[0];
};

describe('sensitive paths beyond the defaults first written', () => {
  it('D1 Arc cookies (Chromium Network/Cookies) are browser_secrets', () => {
    expect(openRow('/Users/dana/Library/Application Support/Arc/User Data/Default/Network/Cookies')).toMatchObject({ category: 'browser_secrets', tier: 1 });
  });
  it('D2 ~/.ssh private keys with non-default names are dev_credentials', () => {
    expect(openRow('/Users/dana/.ssh/id_ed25519_github')).toMatchObject({ category: 'dev_credentials', tier: 1 });
    expect(openRow('/Users/dana/.ssh/id_rsa_work')).toMatchObject({ category: 'dev_credentials', tier: 1 });
    // their public halves are not secrets
    expect(openRow('/Users/dana/.ssh/id_ed25519_github.pub')).toBeUndefined();
    expect(openRow('/Users/dana/.ssh/id_rsa.pub')).toBeUndefined();
  });
});

describe('decompression through a link to the compressor', () => {
  const exec = (path: string, args: string[]) => {
    const { pipeline, archiveEvents } = setup();
    const target = { pid: 60, ppid: 50, path, signingId: 'org.tukaani.xz', startMs: T };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T, gseq: 1, process: stealer, body: body.exec(target, args, '/Users/dana', 10) }));
    return archiveEvents.toArray();
  };
  // Homebrew's unxz/xzcat/unzstd/unpigz are symlinks to xz/zstd/pigz; ES reports the resolved image path,
  // argv[0] keeps the invoked name.
  it('D4 decompression through a symlinked alias is not an archive creation', () => {
    expect(exec('/opt/homebrew/Cellar/xz/5.6.2/bin/xz', ['unxz', '/Users/dana/Downloads/data.tar.xz'])).toEqual([]);
    expect(exec('/opt/homebrew/Cellar/xz/5.6.2/bin/xz', ['xzcat', '/Users/dana/Downloads/data.tar.xz'])).toEqual([]);
    expect(exec('/opt/homebrew/Cellar/zstd/1.5.6/bin/zstd', ['unzstd', '/Users/dana/Downloads/data.tar.zst'])).toEqual([]);
  });
  it('compression by the same executable, or forced under a decompressor name, still is', () => {
    expect(exec('/opt/homebrew/Cellar/xz/5.6.2/bin/xz', ['xz', '/Users/dana/Downloads/data.tar'])).toMatchObject([{ tool: 'xz', archive_path: '/Users/dana/Downloads/data.tar.xz' }]);
    expect(exec('/opt/homebrew/Cellar/xz/5.6.2/bin/xz', ['unxz', '-z', '/Users/dana/Downloads/data.tar'])).toMatchObject([{ tool: 'xz', archive_path: '/Users/dana/Downloads/data.tar.xz' }]);
  });
});
