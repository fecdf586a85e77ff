/**
 * The CLI's tables on a terminal: columns line up in display columns (a Mac named `山田のMacBook Pro` takes two
 * columns per ideograph), and host-sent bidi controls cannot reorder a row.
 */
import { describe, expect, it } from 'vitest';
import { detectionsTable, hostStatusTable, printable } from '../../fleet/cli/format.js';
import { charWidth, cutHostNameToWidth, cutToWidth, padToWidth, textWidth } from '../../fleet/cli/text-width.js';
import { sampleDetection } from './serve-fixtures.js';

/** The display column at which `needle` starts in `line`. */
function columnOf(line: string, needle: string): number {
  const at = line.indexOf(needle);
  expect(at, `${needle} in ${line}`).toBeGreaterThanOrEqual(0);
  return textWidth(line.slice(0, at));
}

describe('text width on a terminal', () => {
  it('counts wide characters as two columns, combining marks and zero-width characters as none', () => {
    expect(textWidth('plain ascii')).toBe(11);
    expect(textWidth('山田のMacBook Pro')).toBe(6 + 11);
    expect(textWidth('김철수의 MacBook')).toBe(8 + 1 + 7);
    expect(textWidth('ＦＵＬＬ')).toBe(8);
    expect(textWidth('e\u0301te\u0301')).toBe(3);
    expect(textWidth('a\u200bb\ufeff')).toBe(2);
    expect(textWidth('📦 box')).toBe(2 + 4);
    // an astral ideograph (CJK Extension B) is one character, two columns, two UTF-16 units
    expect(textWidth('𠀋')).toBe(2);
    expect(textWidth('Ünïcödé')).toBe(7);
    // Korean as macOS keeps it in file names (NFD): initial + medial (+ final) jamo make one two-column syllable
    expect(textWidth('한글'.normalize('NFD'))).toBe(4);
    expect(textWidth('한글')).toBe(4);
  });

  it('cuts to a width without splitting a character, and pads to it', () => {
    for (let w = 2; w <= 12; w++) {
      const cut = cutToWidth('山田のMacBook Pro', w);
      expect(textWidth(cut), cut).toBeLessThanOrEqual(w);
      expect(cut.endsWith('…')).toBe(true);
      expect(textWidth(padToWidth(cut, w))).toBe(w);
      const host = cutHostNameToWidth('データ.共有.example.jp', w);
      expect(textWidth(host), host).toBeLessThanOrEqual(w);
      expect(host.startsWith('…')).toBe(true);
    }
    // a decomposed Korean syllable cut from the start is dropped whole, not left as a lone vowel and final consonant
    const nfd = '한글.example.jp'.normalize('NFD');
    for (let w = 4; w <= 16; w++) {
      const cut = cutHostNameToWidth(nfd, w);
      if (cut.startsWith('…')) expect(charWidth([...cut][1] ?? 'x'), `width ${w}: ${JSON.stringify(cut)}`).not.toBe(0);
      expect(textWidth(cut)).toBeLessThanOrEqual(w);
    }
    // cut at the end, a syllable keeps its vowel and final consonant
    expect(cutToWidth('한글 MacBook'.normalize('NFD'), 5)).toBe('한글…'.normalize('NFD'));
    expect(cutToWidth('山田の', 6)).toBe('山田の');
    expect(cutToWidth('山田のMac', 6)).toBe('山田…');
    expect(cutHostNameToWidth('𠀋𠀋.example.jp', 12)).toBe('….example.jp');
    expect(cutHostNameToWidth('𠀋𠀋.example.jp', 14)).toBe('…𠀋.example.jp');
  });
});

describe('detections and hosts tables', () => {
  it('line up every column after a host name in wide characters', () => {
    const rows = [
      sampleDetection({ id: 'a', hostname: '山田のMacBook Pro' }),
      sampleDetection({ id: 'b', hostname: 'mac-0042.local' }),
      sampleDetection({ id: 'c', hostname: '📦 build-box' }),
    ];
    const lines = detectionsTable(rows).split('\n');
    const starts = lines.slice(0, 4).map((l, i) => columnOf(l, i === 0 ? 'process' : rows[i - 1]!.process.path.split('/').pop()!.slice(0, 6)));
    expect(new Set(starts).size).toBe(1);
    // cut to fit a narrow terminal: no line is wider than it
    for (const width of [100, 120]) for (const l of detectionsTable(rows, width).split('\n').slice(0, -1)) expect(textWidth(l), l).toBeLessThanOrEqual(width);
  });

  it('line up the hosts table too', () => {
    const row = (hostname: string) => ({ hostId: 'uuid', hostname, component: 'eslogger', platform: 'darwin', state: 'degraded', detail: 'Full Disk Access missing', version: '1', time: 1_790_000_000 });
    const lines = hostStatusTable([row('山田のMacBook Pro'), row('mac-0042.local')], false).split('\n');
    expect(new Set(lines.slice(0, 3).map((l, i) => columnOf(l, i === 0 ? 'component' : 'eslogger'))).size).toBe(1);
  });

  it('shows a host name\'s bidi controls as escapes (U+202E would print the rest of the row backwards)', () => {
    expect(printable('mac\u202eexe.pdf')).toBe('mac\\u202eexe.pdf');
    for (const c of ['\u061c', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u202b', '\u202c', '\u202d', '\u2066', '\u2067', '\u2068', '\u2069']) expect(printable(`a${c}b`)).toMatch(/^a\\u[0-9a-f]{4}b$/);
    const table = detectionsTable([sampleDetection({ hostname: 'mac\u202elocal' })]);
    expect(table).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    expect(table).toContain('mac\\u202elocal');
  });
});
