/**
 * doctor names the store it checks without its password, whatever the password holds: node-postgres ends the userinfo
 * at the authority's last '@' (WHATWG URL parsing), and takes a password holding a space (pg-connection-string encodes
 * it before new URL), in the userinfo or in a password=… parameter, and one no URL parser takes.
 */
import { expect, it } from 'vitest';
import { runDoctorChecks } from '../../cli/doctor.js';
import { redactPostgresUrl } from '../../fleet/store/postgres/index.js';

async function storeCheck(url: string) {
  const checks = await runDoctorChecks({ store: url }, { ...process.env, OUTFLOW_PLATFORM: 'linux' });
  const store = checks.find((c) => c.name === 'fleet:store')!;
  expect(store.status).toBe('fail');
  return JSON.stringify(store);
}

it("hides the whole password of postgres://user:pa@ss@host/db, not just up to its first '@'", async () => {
  expect(await storeCheck('postgres://outflow:pw@Tail-s3cr3t@127.0.0.1:1/nope?sslmode=disable')).not.toContain('Tail-s3cr3t');
}, 30_000);

it('hides the whole password of postgres://user:pass word@host/db', async () => {
  const text = await storeCheck('postgres://outflow:open sesame-s3cr3t@127.0.0.1:1/nope?sslmode=disable');
  expect(text).not.toContain('s3cr3t');
  expect(text).not.toContain('open');
}, 30_000);

it('hides the whole password=… parameter holding a space', async () => {
  expect(await storeCheck('postgres://outflow@127.0.0.1:1/nope?sslmode=disable&password=open sesame-s3cr3t')).not.toContain('s3cr3t');
}, 30_000);

// one no URL parser takes (node-postgres refuses it: "Invalid URL"), its authority ending at that character
it.each(['/', '?', '#'])('hides the whole password of postgres://user:pw%sTail@host/db', async (c) => {
  expect(await storeCheck(`postgres://outflow:pw${c}Tail-s3cr3t@127.0.0.1:1/nope`)).not.toContain('s3cr3t');
}, 30_000);

// one a URL parser takes but reads otherwise: the authority ends at the '/', '?' or '#', the user name read as a host
// and digits after ':' as a port; the text after ':' is still the password its owner typed
it.each(['/s3cr3t', '?s3cr3t', '#s3cr3t', '2024#s3cr3t', '12/s3cr3t'])('hides the password %s of postgres://outflow:<password>@host/db', async (pw) => {
  const url = `postgres://outflow:${pw}@127.0.0.1:1/nope`;
  expect(() => new URL(url)).not.toThrow();
  expect(await storeCheck(url)).not.toContain('s3cr3t');
}, 30_000);

// the store's own name for its server (logs, /healthz, its messages) reads the authority after the last '@' too
it.each([
  ['postgres://outflow:s3cr3t@db.example:5432/outflow', 'postgres://db.example:5432/outflow'],
  ['postgres://outflow:12/s3cr3t@db.example:5432/outflow', 'postgres://db.example:5432/outflow'],
  ['postgres://outflow:pw@s3cr3t@db.example/outflow', 'postgres://db.example/outflow'],
  ['postgres://db.example/outflow', 'postgres://db.example/outflow'],
])('redactPostgresUrl(%s) is %s', (url, named) => {
  expect(redactPostgresUrl(url)).toBe(named);
});
