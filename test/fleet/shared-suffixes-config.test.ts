/** `fleet.ingest.shared_suffixes`: an admin's own tenant-hosting suffixes, from the config to the destination keys. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runIngestCommand } from '../../fleet/cli/ingest-command.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { T0, destinationLine, hostsOf } from './fleet-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-shared-suffixes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fleet.ingest.shared_suffixes', () => {
  it('keys a name under a configured suffix by its full name, and others by their registrable domain', async () => {
    const hosts = hostsOf(2);
    const logFile = path.join(dir, 'results.log');
    writeFileSync(logFile, `${[destinationLine(hosts[0]!, T0, 'team-a.Files.Example.com'), destinationLine(hosts[1]!, T0 + 1, 'www.example.com')].join('\n')}\n`);
    const store = await openSqliteStore(path.join(dir, 'store.db'));
    const quiet = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const config = parseConfig({ fleet: { ingest: { quarantine_file: '', shared_suffixes: ['FILES.example.com'] } } });
      expect(config.fleet.ingest.shared_suffixes).toEqual(['files.example.com']);
      expect(await runIngestCommand(store, [logFile], { config, log: silentLogger(), finalize: false, flush: true, fromStart: false, json: false, progress: 'never' })).toBe(0);
      const seen = await store.prevalence.destinations(['team-a.files.example.com', 'example.com'], { from: 0, to: 4_000_000_000 });
      expect(seen.get('team-a.files.example.com')?.hosts).toBe(1);
      expect(seen.get('example.com')?.hosts).toBe(1);
    } finally {
      quiet.mockRestore();
      await store.close();
    }
  });

  it.each(['com', '.example.com', 'example..com', 'files.example.com/x', ''])('refuses %j, naming the key', (suffix) => {
    expect(() => parseConfig({ fleet: { ingest: { shared_suffixes: [suffix] } } })).toThrow(/fleet\.ingest\.shared_suffixes/);
  });
});
