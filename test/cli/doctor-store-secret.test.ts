/**
 * Doctor must not print a PostgreSQL password given as a connection-string parameter
 * (postgres://user@host/db?password=…, which node-postgres honours), as it already hides user:password@.
 */
import { expect, it } from 'vitest';
import { runDoctorChecks } from '../../cli/doctor.js';

it('hides a ?password= of a postgres store URL, as it hides user:password@', async () => {
  const checks = await runDoctorChecks({ store: 'postgres://outflow@127.0.0.1:1/nope?password=s3cr3t-pw&sslmode=disable' }, { ...process.env, OUTFLOW_PLATFORM: 'linux' });
  const store = checks.find((c) => c.name === 'fleet:store')!;
  expect(store.status).toBe('fail');
  expect(JSON.stringify(store)).not.toContain('s3cr3t-pw');
}, 30_000);
