import { describe, expect, it } from 'vitest';
import { plainAppRow } from '../../fleet/ingest/ingest-service.js';
import { AppRowSchema } from '../../src/schemas/result-log.js';

const base = {
  cdhash: 'a1b2',
  identity: 'team:EQHXZ8M8AV/com.google.Chrome',
  notarized: '1',
  path: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  signature_class: 'developer_id',
  signing_id: 'com.google.Chrome',
  team_id: 'EQHXZ8M8AV',
};

describe('plainAppRow (outflow_apps without zod)', () => {
  const variants: Record<string, unknown>[] = [
    base,
    { ...base, notarized: '-1' },
    { ...base, notarized: 0 },
    { ...base, notarized: -0 },
    { ...base, notarized: '-0' },
    { ...base, notarized: undefined },
    { ...base, cdhash: undefined, team_id: undefined },
    { identity: 'x' },
    {},
    { ...base, notarized: '1.5' },
    { ...base, notarized: 1.5 },
    { ...base, notarized: '' },
    { ...base, notarized: null },
    { ...base, notarized: 'yes' },
    { ...base, notarized: '12345678901234567890' },
    { ...base, notarized: 2 ** 60 },
    { ...base, path: 42 },
    { ...base, identity: null },
    { ...base, team_id: ['x'] },
    { ...base, extra: 'ignored' },
  ];

  it.each(variants.map((v, i) => [i, v] as const))('variant %i: accepted only as zod would, with the same values', (_i, row) => {
    const fast = plainAppRow(row);
    const zod = AppRowSchema.safeParse(row);
    if (fast !== undefined) {
      expect(zod.success).toBe(true);
      expect(fast).toEqual(zod.data);
    }
  });

  it('reads the plain rows a Mac logs (no fallback to zod for them)', () => {
    expect(plainAppRow(base)).toEqual({ ...base, notarized: 1 });
    expect(plainAppRow({ ...base, notarized: '-1', cdhash: '' })).toMatchObject({ notarized: -1, cdhash: '' });
    expect(plainAppRow({ ...base, notarized: 1 })).toMatchObject({ notarized: 1 });
    expect(plainAppRow({ identity: 'x' })).toEqual({ path: '', identity: 'x', signature_class: '', team_id: '', signing_id: '', cdhash: '', notarized: -1 });
  });

  it('leaves everything unusual to the schema', () => {
    for (const v of [{ ...base, notarized: '1.5' }, { ...base, notarized: null }, { ...base, path: 42 }, { ...base, notarized: 2 ** 60 }]) expect(plainAppRow(v)).toBeUndefined();
  });
});
