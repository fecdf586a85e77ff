import { describe, expect, it } from 'vitest';
import { statusGaugeSamples } from './host-status.js';

describe('statusGaugeSamples', () => {
  it('keeps the extension\'s component and state names and sums made-up ones into "other"', () => {
    expect(
      statusGaugeSamples([
        { component: 'eslogger', state: 'permission_denied', hosts: 4 },
        { component: 'Evil"\ncomponent', state: 'running', hosts: 1 },
        { component: 'x'.repeat(33), state: 'running', hosts: 2 },
        { component: 'flows', state: 'weird', hosts: 1 },
        { component: 'flows', state: 'also_weird', hosts: 2 },
      ]),
    ).toEqual([
      { component: 'eslogger', state: 'permission_denied', hosts: 4 },
      { component: 'other', state: 'running', hosts: 3 },
      { component: 'flows', state: 'other', hosts: 3 },
    ]);
  });
});
