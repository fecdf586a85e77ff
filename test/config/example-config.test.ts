import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { REPO_ROOT } from '../helpers/cli.js';

describe('deploy/fleet.example.yml', () => {
  it('is a valid config that the service unit can start with', () => {
    const c = loadConfig(path.join(REPO_ROOT, 'deploy/fleet.example.yml'), {});
    expect(c.fleet.store).toBe('/var/lib/outflow/outflow.db');
    expect(c.fleet.ingest.files).toHaveLength(2);
    expect(c.fleet.http.token_file).toBe('/etc/outflow/http.token');
    expect(c.fleet.sinks[0]).toMatchObject({ type: 'file', format: 'json' });
  });
});
