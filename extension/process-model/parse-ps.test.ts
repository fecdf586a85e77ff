import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/errors.js';
import { parseBtime, parseLstart, parseProcStat, parseProcStatusUid, parsePsArgs, parsePsProcesses } from './parse-ps.js';

const fixture = (name: string) => readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');

describe('parsePsProcesses (darwin ps, formats.md §3.1)', () => {
  it('splits lstart on whitespace runs and keeps spaces in comm', () => {
    const { rows, skipped } = parsePsProcesses(fixture('ps-basic.txt'));
    expect(skipped).toBe(0);
    expect(rows).toHaveLength(8);
    expect(rows[5]).toEqual({ pid: 4471, ppid: 1, uid: 502, start: Date.UTC(2026, 2, 3, 7, 5, 59) / 1000, comm: '/Library/Application Support/Backup Agent/Backup Agent Helper' });
    expect(rows[6]).toMatchObject({ pid: 60311, ppid: 4421, comm: '/opt/homebrew/bin/rclone', start: 1772531292 });
  });

  it('skips headers, bad numbers, bad dates and a truncated last line', () => {
    const { rows, skipped } = parsePsProcesses(fixture('ps-malformed.txt'));
    expect(rows.map((r) => r.pid)).toEqual([1]);
    expect(skipped).toBe(4);
  });

  it('throws ParseError only when nothing parses', () => {
    expect(() => parsePsProcesses('garbage\nmore garbage\n')).toThrow(ParseError);
    expect(parsePsProcesses('')).toEqual({ rows: [], skipped: 0 });
  });

  it('believes no row of a pid listed twice (an executable name with a newline can forge a row)', () => {
    const forged = [
      '  501     1   501 Mon Mar  2 09:00:00 2026     /tmp/evil',
      '  777     1   501 Mon Mar  2 09:00:00 2026     /Applications/Safari.app/Contents/MacOS/Safari',
      '  777     1   501 Mon Mar  2 09:05:00 2026     /Users/a/evil2',
      '  888     1   501 Mon Mar  2 09:00:00 2026     /usr/bin/curl',
    ].join('\n');
    const { rows, skipped } = parsePsProcesses(forged);
    expect(rows.map((r) => r.pid)).toEqual([501, 888]);
    expect(skipped).toBe(2);
  });

  it('parseLstart rejects what is not `Www Mmm dd HH:MM:SS YYYY`', () => {
    expect(parseLstart(['Tue', 'Mar', '3', '07:00:00', '2026'])).toBe(Date.UTC(2026, 2, 3, 7) / 1000);
    expect(parseLstart(['Tue', 'Mär', '3', '07:00:00', '2026'])).toBeNaN();
    expect(parseLstart(['Tue', 'Mar', '3', '7h', '2026'])).toBeNaN();
  });
});

describe('parsePsArgs', () => {
  it('maps pid to whitespace-split argv', () => {
    const { args } = parsePsArgs(fixture('ps-basic-args.txt'));
    expect(args.get(4421)).toEqual(['-zsh']);
    expect(args.get(60311)).toEqual(['/opt/homebrew/bin/rclone', 'copy', '/Users/dana/Documents', 'remote:bucket']);
  });
});

describe('/proc parsers (formats.md §3.2)', () => {
  it('splits stat after the last `)` so comm may hold spaces and parentheses', () => {
    const stat = '4242 (my (weird) proc) S 17 4242 4242 0 -1 4194560 10 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10 18446744073709551615';
    expect(parseProcStat(stat)).toEqual({ comm: 'my (weird) proc', state: 'S', ppid: 17, starttime: 123456 });
    expect(parseProcStat('4242 (truncated')).toBeUndefined();
    expect(parseProcStat('4242 (x) S 1')).toBeUndefined();
  });
  it('reads the real uid and btime', () => {
    expect(parseProcStatusUid('Name:\tx\nUid:\t1000\t0\t0\t0\n')).toBe(1000);
    expect(parseProcStatusUid('Name:\tx\n')).toBeUndefined();
    expect(parseBtime('cpu 1 2 3\nbtime 1795742092\n')).toBe(1795742092);
  });
});
