import { describe, expect, it } from 'vitest';
import { LineReader } from './line-reader.js';

describe('LineReader line cap', () => {
  it('delivers a line of exactly maxLineChars, whole or in pieces, and drops one a character longer', () => {
    const lines: string[] = [];
    const reader = new LineReader((l) => lines.push(l), 16);
    const exact = '{"global_seq":1}'; // 16 characters
    reader.push(Buffer.from(`${exact}\n`));
    reader.push(Buffer.from(exact.slice(0, 7)));
    reader.push(Buffer.from(`${exact.slice(7)}\n`));
    reader.push(Buffer.from(`${exact}x\n{"b":2}\n`));
    reader.end();
    expect(lines).toEqual([exact, exact, '{"b":2}']);
    expect(reader.oversized).toBe(1);
  });

  it('an oversized last line cut inside a UTF-8 character at the end of the stream delivers nothing', () => {
    const lines: string[] = [];
    const reader = new LineReader((l) => lines.push(l), 16);
    // eslogger killed while printing a huge exec event: the stream ends inside "é" (C3 A9) of the discarded line
    reader.push(Buffer.concat([Buffer.from('{"args":"' + 'a'.repeat(40)), Buffer.from([0xc3])]));
    reader.end();
    expect(lines).toEqual([]);
    expect(reader.oversized).toBe(1);
  });
});
