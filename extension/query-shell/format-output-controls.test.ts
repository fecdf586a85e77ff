/** The table output on a hunter's terminal: text other users chose is shown, never obeyed; every result column is shown. */
import { describe, expect, it } from 'vitest';
import { formatTable } from './format-output.js';

describe('formatTable and untrusted text', () => {
  it('never writes a control character to the terminal (paths, argv, server names come from other users)', () => {
    // a file name that clears the line and rewrites it, and one that moves the cursor up and erases a row
    const out = formatTable(['path'], [{ path: '/tmp/x\r/Applications/Safari.app' }, { path: '/tmp/\x1b[1A\x1b[2Kevil\tz' }, { path: '/tmp/\x9b2J' }]);
    // eslint-disable-next-line no-control-regex
    expect(out.replace(/\n/g, '')).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
  });

  it('shows each column of a result whose column names repeat (rows as arrays)', () => {
    expect(formatTable(['x', 'x'], [[1, 2]] as unknown as Record<string, unknown>[])).toBe(['+---+---+', '| x | x |', '+---+---+', '| 1 | 2 |', '+---+---+', ''].join('\n'));
  });
});
