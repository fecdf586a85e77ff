import { describe, expect, it } from 'vitest';
import { LineReader } from './line-reader.js';

function collect(maxLineChars?: number) {
  const lines: string[] = [];
  const reader = new LineReader((l) => lines.push(l), maxLineChars);
  return { lines, reader };
}

describe('LineReader', () => {
  it('reassembles lines cut anywhere, including inside a multi-byte character', () => {
    const text = '{"a":"é日本"}\n{"b":2}\n\n{"c":"ü"}\n';
    const bytes = Buffer.from(text, 'utf8');
    for (let cut1 = 1; cut1 < bytes.length - 1; cut1++) {
      const cut2 = Math.min(bytes.length - 1, cut1 + 3);
      const { lines, reader } = collect();
      reader.push(bytes.subarray(0, cut1));
      reader.push(bytes.subarray(cut1, cut2));
      reader.push(bytes.subarray(cut2));
      reader.end();
      expect(lines).toEqual(['{"a":"é日本"}', '{"b":2}', '{"c":"ü"}']);
    }
  });

  it('delivers a last line without newline at end of stream', () => {
    const { lines, reader } = collect();
    reader.push(Buffer.from('one\ntwo'));
    expect(lines).toEqual(['one']);
    reader.end();
    expect(lines).toEqual(['one', 'two']);
  });

  it('keeps the largest exec event eslogger can print (1 MiB of argv and env, 6 JSON characters a byte)', () => {
    const lines: string[] = [];
    const reader = new LineReader((l) => lines.push(l));
    const padded = `{"event":{"exec":{"env":["${'\\u0001'.repeat(1024 * 1024)}"]}}}`;
    for (let i = 0; i < padded.length; i += 65_536) reader.push(Buffer.from(padded.slice(i, i + 65_536)));
    reader.push(Buffer.from('\n'));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBe(padded.length);
    expect(reader.oversized).toBe(0);
  });

  it('drops and counts oversized lines without buffering them', () => {
    const { lines, reader } = collect(10);
    reader.push(Buffer.from('short\n' + 'x'.repeat(8)));
    reader.push(Buffer.from('x'.repeat(8))); // partial grows past the cap: discarded from here on
    reader.push(Buffer.from('x'.repeat(100)));
    reader.push(Buffer.from('tail\nok\n' + 'y'.repeat(20) + '\nlast\n'));
    reader.end();
    expect(lines).toEqual(['short', 'ok', 'last']);
    expect(reader.oversized).toBe(2);
  });
});
