/**
 * A PostgreSQL password may hold an '@' (node-postgres, as WHATWG URL parsing, ends the userinfo at the
 * authority's last '@'): doctor must hide all of it, not only what precedes its first '@'.
 */
import { expect, it } from 'vitest';
import { runDoctorChecks } from '../../cli/doctor.js';

it("hides the whole password of postgres://user:pa@ss@host/db, not just up to its first '@'", async () => {
  const checks = await runDoctorChecks({ store: 'postgres://outflow:pw@Tail-s3cr3t@127.0.0.1:1/nope?sslmode=disable' }, { ...process.env, OUTFLOW_PLATFORM: 'linux' });
  const store = checks.find((c) => c.name === 'fleet:store')!;
  expect(store.status).toBe('fail');
  expect(JSON.stringify(store)).not.toContain('Tail-s3cr3t');
}, 30_000);
