import { describe, expect, it } from 'vitest';
import { PLAIN_CANDIDATE_COLUMNS, plainCandidateRow } from '../../fleet/ingest/plain-candidate-row.js';
import { EgressCandidateSchema } from '../../src/schemas/egress-candidate.js';
import { simulateFleet } from '../../scripts/simulate-fleet.js';

/** Candidate rows as osquery logs them: every value a string, from the simulated fleet's pack results. */
function loggedCandidateRows(): Record<string, unknown>[] {
  const fleet = simulateFleet({ hosts: 40, days: 2, seed: 11, files: 1 });
  const rows: Record<string, unknown>[] = [];
  for (const line of fleet.files[0]!) {
    if (!line.includes('outflow_candidates')) continue;
    const parsed = JSON.parse(line) as { columns?: Record<string, unknown>; diffResults?: { added: Record<string, unknown>[] } };
    if (parsed.columns) rows.push(parsed.columns);
    for (const r of parsed.diffResults?.added ?? []) rows.push(r);
  }
  return rows;
}

/** With --logger_numerics osquery writes integer and double columns as JSON numbers. */
function withNumerics(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = typeof v === 'string' && k !== 'flow_id' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  return out;
}

const LONG = 'a'.repeat(5000);
// a surrogate pair across every cut point the schema uses (256, 512, 4096)
const SURROGATES = '😀'.repeat(2100);

/** Values to put in any column: the plain forms, osquery's number/string drift, and what the schema refuses. */
const VALUES: unknown[] = [
  undefined, '', '0', '-0', '12', '007', '-5', '1.5', '0.9626', '-0.25', '1e3', '1..2', '.', '-', '1.', ' 1', '1 ', '+1', '0x10', 'x', 'NaN', 'Infinity',
  '123456789012345', '1234567890123456', '12345678901234567890', '1.12345678901234567890',
  12, -0, 1.5, 2 ** 53, 2 ** 53 - 1, 2 ** 60, Number.NaN, Number.POSITIVE_INFINITY, null, true, [], {}, ['x'],
  LONG, SURROGATES, `x${SURROGATES}`, 'tcp', 'udp', 'none', 'archive', 'sensitive_access', 'AN0990', 'AN0425', 'an0990',
  '[]', '{}', 'null', '[null]', '[[]]', '[1]', 'not json', '[{"pid":1,"path":"/a"}',
  '[{"pid":1,"path":"/a"}]',
  '[{"pid":"7","path":"/a","identity":"team:X/y","signature_class":"developer_id","extra":1}]',
  '[{"pid":1.5,"path":"/a"}]', '[{"pid":"1.5","path":"/a"}]', '[{"path":"/a"}]', '[{"pid":1}]', '[{"pid":1,"path":5}]',
  '[{"pid":1,"path":"/a","identity":null}]', '[{"pid":1,"path":"/a","signature_class":7}]', '[{"pid":"","path":"/a"}]',
  `[{"pid":1,"path":"${LONG}","identity":"${LONG}"}]`,
  JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ pid: i, path: `/p/${i}`, identity: `id${i}`, signature_class: 'unsigned' }))),
  [{ pid: 1, path: '/a' }],
];

/** The check: whatever the fast path accepts, the schema accepts, with the same value and the same JSON. */
function expectSameAsSchema(row: Record<string, unknown>): boolean {
  const fast = plainCandidateRow(row);
  if (fast === undefined) return false;
  const zod = EgressCandidateSchema.safeParse(row);
  expect(zod.success, `the schema refused what the fast path read: ${JSON.stringify(zod.error?.issues)}`).toBe(true);
  expect(fast).toEqual(zod.data);
  // the stored body and its digest are this JSON: key order counts
  expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.data));
  return true;
}

describe('plainCandidateRow (outflow_candidates without zod)', () => {
  const rows = loggedCandidateRows();

  it('reads the schema’s columns, in its order', () => {
    expect(PLAIN_CANDIDATE_COLUMNS).toEqual(Object.keys(EgressCandidateSchema.shape));
  });

  it('reads every row the simulated fleet logs, as strings and as numerics, as the schema does', () => {
    expect(rows.length).toBeGreaterThan(20);
    for (const row of rows) {
      expect(expectSameAsSchema(row)).toBe(true);
      expect(expectSameAsSchema(withNumerics(row))).toBe(true);
    }
  });

  it('every column, every value: accepted only as the schema would, with the same result', () => {
    const base = rows[0]!;
    let read = 0;
    let leftToSchema = 0;
    for (const key of PLAIN_CANDIDATE_COLUMNS) {
      for (const v of VALUES) {
        if (expectSameAsSchema({ ...base, [key]: v })) read++;
        else leftToSchema++;
      }
    }
    // both outcomes happen on a large share: the check above is not vacuous
    expect(read).toBeGreaterThan(1000);
    expect(leftToSchema).toBeGreaterThan(500);
  });

  it('mutated rows (seeded): several columns changed at once', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let read = 0;
    for (let i = 0; i < 3000; i++) {
      const row = { ...rows[rand(rows.length)]! };
      for (let m = rand(4); m >= 0; m--) row[PLAIN_CANDIDATE_COLUMNS[rand(PLAIN_CANDIDATE_COLUMNS.length)]!] = VALUES[rand(VALUES.length)];
      if (expectSameAsSchema(row)) read++;
    }
    expect(read).toBeGreaterThan(300);
  });

  it('leaves what the schema refuses, and unusual forms, to the schema', () => {
    const base = rows[0]!;
    for (const odd of [
      { analytic: 'AN9999' },
      { flow_id: '' },
      { remote_address: undefined },
      { pid: '1.5' },
      { pid: 2 ** 60 },
      { protocol: 'icmp' },
      { process_chain: 'not json' },
      { process_chain: [{ pid: 1, path: '/a' }] },
      { bytes_out: '' },
      { server_name: null },
    ]) {
      expect(plainCandidateRow({ ...base, ...odd }), JSON.stringify(odd)).toBeUndefined();
    }
  });

  it('integer text of 16 or 17 digits beyond 2^53 is left to the schema, which refuses it', () => {
    for (const big of ['9007199254740993', '12345678901234567']) {
      const row = { ...rows[0]!, bytes_out: big };
      expect(plainCandidateRow(row), big).toBeUndefined();
      expect(EgressCandidateSchema.safeParse(row).success, big).toBe(false);
    }
  });

  it('cuts long text as the schema does: paths at their end, host names keeping their registrable end', () => {
    const row = plainCandidateRow({ ...rows[0]!, path: LONG, server_name: `${'x'.repeat(300)}.example.com`, process_chain: JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ pid: i, path: '/p' }))) })!;
    expect(row.path).toHaveLength(4096);
    expect(row.path.endsWith('…')).toBe(true);
    expect(row.server_name.startsWith('…')).toBe(true);
    expect(row.server_name.endsWith('.example.com')).toBe(true);
    expect(row.process_chain).toHaveLength(32);
  });
});
