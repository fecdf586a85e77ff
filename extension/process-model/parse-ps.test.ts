import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/errors.js';
import { mergePsListings, parseBtime, parseLstart, parseProcStat, parseProcStatusUid, parsePsArgs, parsePsIds, parsePsProcesses } from './parse-ps.js';

const fixture = (name: string) => readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');

const pids = <T extends { pid: number }>(lines: Array<T | null>) => lines.map((r) => r?.pid ?? null);
const idsOf = (procsText: string) => parsePsIds(procsText.replace(/^(\s*\d+\s+\d+\s+-?\d+(?:\s+\S+){5}).*$/gm, '$1')).rows;

describe('parsePsProcesses (darwin ps, formats.md §3.1)', () => {
  it('splits lstart on whitespace runs and keeps spaces in comm', () => {
    const { lines, complete, blank } = parsePsProcesses(fixture('ps-basic.txt'));
    expect(complete).toBe(true);
    expect(blank).toBe(0);
    expect(lines).toHaveLength(8);
    expect(lines[5]).toEqual({ pid: 4471, ppid: 1, uid: 502, start: Date.UTC(2026, 2, 3, 7, 5, 59) / 1000, comm: '/Library/Application Support/Backup Agent/Backup Agent Helper' });
    expect(lines[6]).toMatchObject({ pid: 60311, ppid: 4421, comm: '/opt/homebrew/bin/rclone', start: 1772531292 });
  });

  it('marks headers, bad numbers, bad dates and a truncated last line as lines that fit no format', () => {
    const { lines } = parsePsProcesses(fixture('ps-malformed.txt'));
    expect(pids(lines)).toEqual([1, null, null, null, null]);
  });

  it('parseLstart rejects what is not `Www Mmm dd HH:MM:SS YYYY`', () => {
    expect(parseLstart(['Tue', 'Mar', '3', '07:00:00', '2026'])).toBe(Date.UTC(2026, 2, 3, 7) / 1000);
    expect(parseLstart(['Tue', 'Mär', '3', '07:00:00', '2026'])).toBeNaN();
    expect(parseLstart(['Tue', 'Mar', '3', '7h', '2026'])).toBeNaN();
  });
});

describe('parsePsIds (the listing without text a process chooses)', () => {
  it('reads pid, ppid, uid and start; a line with anything after lstart does not fit', () => {
    const { rows, skipped } = parsePsIds('    1     0     0 Tue Mar  3 07:00:00 2026\r\n  412     1     0 Tue Mar  3 07:00:03 2026 /usr/libexec/logd\n\n 4419     1   502 Tue Mar  3 07:05:50 2026\n');
    expect(rows).toEqual([
      { pid: 1, ppid: 0, uid: 0, start: Date.UTC(2026, 2, 3, 7) / 1000 },
      { pid: 4419, ppid: 1, uid: 502, start: Date.UTC(2026, 2, 3, 7, 5, 50) / 1000 },
    ]);
    expect(skipped).toBe(1);
  });

  it('counts a repeated pid and a truncated last line', () => {
    const { rows, skipped } = parsePsIds('    1     0     0 Tue Mar  3 07:00:00 2026\n    1     0     0 Tue Mar  3 07:00:00 2026\n  412     1     0 Tue Mar  3 07:0');
    expect(rows.map((r) => r.pid)).toEqual([1]);
    expect(skipped).toBe(2);
  });

  it('throws ParseError only when nothing parses', () => {
    expect(() => parsePsIds('garbage\nmore garbage\n')).toThrow(ParseError);
    expect(parsePsIds('')).toEqual({ rows: [], skipped: 0 });
  });
});

describe('parsePsArgs', () => {
  it('maps pid to whitespace-split argv', () => {
    const { lines } = parsePsArgs(fixture('ps-basic-args.txt'));
    const args = new Map(lines.map((r) => [r!.pid, r!.args]));
    expect(args.get(4421)).toEqual(['-zsh']);
    expect(args.get(60311)).toEqual(['/opt/homebrew/bin/rclone', 'copy', '/Users/dana/Documents', 'remote:bucket']);
  });
});

describe('mergePsListings', () => {
  it('believes every path and argv of ordinary output', () => {
    const text = fixture('ps-basic.txt');
    const snap = mergePsListings(idsOf(text), parsePsProcesses(text), parsePsArgs(fixture('ps-basic-args.txt')));
    expect({ skipped: snap.skipped, forged: snap.forged, withheld: snap.withheld }).toEqual({ skipped: 0, forged: 0, withheld: 0 });
    expect(snap.processes).toHaveLength(8);
    expect(snap.processes.every((p) => p.comm && p.args)).toBe(true);
    expect(snap.processes[6]).toEqual({ pid: 60311, ppid: 4421, uid: 502, start: 1772531292, comm: '/opt/homebrew/bin/rclone', args: ['/opt/homebrew/bin/rclone', 'copy', '/Users/dana/Documents', 'remote:bucket'] });
    // without the args listing (its ps failed) there is no argv, and nothing is withheld
    expect(mergePsListings(idsOf(text), parsePsProcesses(text)).processes[6]).not.toHaveProperty('args');
  });

  // ps-forged*.txt: what ps would print if it printed newlines raw (formats.md §3.1: unverified), with
  //  - 60400 executed as "/Users/eve/Library/Caches/x\n60311 … /Applications/Safari.app/Contents/MacOS/Safari"
  //    (a second row for rclone's pid: hide rclone, or pass it off as Safari) and argv ["x", "-q\n 4421 /bin/zsh -c true"]
  //    (replace the terminal shell's argv so that it looks like a script);
  //  - 60401 executed as "/Users/eve/Library/Caches/y\n31337     1     0 … Safari" (a phantom uid 0 Safari).
  it('forged lines can neither hide, invent nor replace a process, and what they touch is withheld', () => {
    const snap = mergePsListings(parsePsIds(fixture('ps-forged-ids.txt')).rows, parsePsProcesses(fixture('ps-forged.txt')), parsePsArgs(fixture('ps-forged-args.txt')));
    const byPid = new Map(snap.processes.map((p) => [p.pid, p]));
    expect([...byPid.keys()]).toEqual([1, 412, 4419, 4420, 4421, 4471, 60311, 60400, 60401, 777]);
    // rclone is still there, as the ids listing says (ppid, uid, start), with neither its path nor Safari's
    expect(byPid.get(60311)).toEqual({ pid: 60311, ppid: 4421, uid: 502, start: 1772531292, args: ['/opt/homebrew/bin/rclone', 'copy', '/Users/dana/Documents', 'remote:bucket'] });
    // the shell's argv is withheld, not replaced; its path is believed
    expect(byPid.get(4421)).toMatchObject({ comm: '/bin/zsh' });
    expect(byPid.get(4421)).not.toHaveProperty('args');
    // the forgers' own text was cut at the newline: "/Users/eve/Library/Caches/x" is not their path
    expect(byPid.get(60400)).toEqual({ pid: 60400, ppid: 4421, uid: 502, start: Date.UTC(2026, 2, 3, 9, 50) / 1000 });
    expect(byPid.get(60401)).toEqual({ pid: 60401, ppid: 4421, uid: 502, start: Date.UTC(2026, 2, 3, 9, 50, 1) / 1000, args: ['y'] });
    // no phantom
    expect(byPid.has(31337)).toBe(false);
    // Which of rclone's two rows is the forged one is unknown, so the row before either may be the forger's,
    // cut short: 4471 (before the real one) loses its path too. Its argv, followed by a clean line, stays;
    // 4420's argv, followed by the shell's real argv line, goes the same way.
    expect(byPid.get(4471)).toEqual({ pid: 4471, ppid: 1, uid: 502, start: Date.UTC(2026, 2, 3, 7, 5, 59) / 1000, args: ['/Library/Application', 'Support/Backup', 'Agent/Backup', 'Agent', 'Helper', '--daemon'] });
    // everything else is untouched
    expect(byPid.get(4420)).toEqual({ pid: 4420, ppid: 4419, uid: 0, start: Date.UTC(2026, 2, 3, 7, 5, 51) / 1000, comm: '/usr/bin/login' });
    for (const pid of [1, 412, 4419, 777]) expect(Object.keys(byPid.get(pid)!)).toEqual(['pid', 'ppid', 'uid', 'start', 'comm', 'args']);
    expect(byPid.get(777)).toMatchObject({ comm: '(mdworker)', args: ['(mdworker)'] });
    // one extra rclone row and one extra zsh row; the phantom row is skipped; 60311, 4421, 4471, 4420, 60400, 60401 lost text
    expect({ skipped: snap.skipped, forged: snap.forged, withheld: snap.withheld }).toEqual({ skipped: 1, forged: 2, withheld: 6 });
  });

  it('review repro P1/P2: a victim keeps its pid and is never given the forged argv or path', () => {
    const ids = parsePsIds(['  500     1   501 Mon Mar  2 10:00:00 2026', '  777     1   501 Mon Mar  2 10:00:00 2026', '  888     1   501 Mon Mar  2 10:00:00 2026', ''].join('\n')).rows;
    const procs = parsePsProcesses(
      [
        '  500     1   501 Mon Mar  2 10:00:00 2026 /usr/bin/curl',
        '  777     1   501 Mon Mar  2 10:00:00 2026 /tmp/x',
        '  500     1     0 Mon Mar  2 10:00:00 2026 /Applications/Safari.app/Contents/MacOS/Safari',
        '  888     1   501 Mon Mar  2 10:00:00 2026 /tmp/y',
        '31337     1     0 Mon Mar  2 10:00:00 2026 /Applications/Safari.app/Contents/MacOS/Safari',
        '',
      ].join('\n'),
    );
    const args = parsePsArgs(['  500 /bin/zsh -il', '  777 /tmp/evil x', '  500 /bin/zsh -c true', '  888 /tmp/y', ''].join('\n'));
    const snap = mergePsListings(ids, procs, args);
    expect(snap.processes).toEqual([
      { pid: 500, ppid: 1, uid: 501, start: Date.UTC(2026, 2, 2, 10) / 1000 },
      { pid: 777, ppid: 1, uid: 501, start: Date.UTC(2026, 2, 2, 10) / 1000 },
      // 888's path is cut ("/tmp/y\n31337 …"); its argv line is followed by the end of the output: believed
      { pid: 888, ppid: 1, uid: 501, start: Date.UTC(2026, 2, 2, 10) / 1000, args: ['/tmp/y'] },
    ]);
    expect(snap.forged).toBe(2);
  });

  it('a path ending in a newline (a blank line) withholds that path and counts as forged', () => {
    const text = '  500     1   501 Mon Mar  2 10:00:00 2026 /tmp/x\n\n  501     1   501 Mon Mar  2 10:00:00 2026 /usr/bin/curl\n';
    const snap = mergePsListings(idsOf(text), parsePsProcesses(text));
    expect(snap.processes.map((p) => p.comm)).toEqual([undefined, '/usr/bin/curl']);
    expect({ skipped: snap.skipped, forged: snap.forged, withheld: snap.withheld }).toEqual({ skipped: 1, forged: 1, withheld: 1 });
  });

  it('several forged lines in a row, and lines that fit no format, withhold the row before them', () => {
    const ids = '  500     1   501 Mon Mar  2 10:00:00 2026\n  501     1   501 Mon Mar  2 10:00:00 2026\n  502     1   501 Mon Mar  2 10:00:00 2026\n';
    const procs = [
      '  500     1   501 Mon Mar  2 10:00:00 2026 /tmp/x',
      'garbage',
      '  999     1     0 Mon Mar  2 10:00:00 2026 /sbin/phantom',
      '  501     1   501 Mon Mar  2 10:00:00 2026 /usr/bin/curl',
      '  502     1   501 Mon Mar  2 10:00:00 2026 /bin/ls',
      '',
    ].join('\n');
    const snap = mergePsListings(parsePsIds(ids).rows, parsePsProcesses(procs));
    expect(snap.processes.map((p) => p.comm)).toEqual([undefined, '/usr/bin/curl', '/bin/ls']);
    // no repeated pid, no blank line: nothing only a forgery explains (999 might have started in between)
    expect({ skipped: snap.skipped, forged: snap.forged, withheld: snap.withheld }).toEqual({ skipped: 2, forged: 0, withheld: 1 });
  });

  it('output cut short (no final newline) withholds the last row’s text', () => {
    const text = '  500     1   501 Mon Mar  2 10:00:00 2026 /usr/bin/curl\n  501     1   501 Mon Mar  2 10:00:00 2026 /Applications/Backup Ag';
    const snap = mergePsListings(idsOf(`${text}\n`), parsePsProcesses(text));
    expect(snap.processes.map((p) => p.comm)).toEqual(['/usr/bin/curl', undefined]);
    expect(snap.withheld).toBe(1);
  });

  it('listings taken a moment apart: a row of another instance or of an unlisted pid is skipped; a missing row is no loss', () => {
    const ids = parsePsIds('  500     1   501 Mon Mar  2 10:00:00 2026\n  501     1   501 Mon Mar  2 10:00:00 2026\n  502   400   501 Mon Mar  2 10:00:00 2026\n').rows;
    const procs = parsePsProcesses(
      [
        '  500     1   501 Mon Mar  2 10:00:05 2026 /usr/bin/reused', // pid 500 reused between the two runs
        '  501     1   501 Mon Mar  2 10:00:00 2026 /usr/bin/curl',
        '  502     1   501 Mon Mar  2 10:00:00 2026 /bin/ls', // reparented meanwhile: ppid from the ids listing
        '',
      ].join('\n'),
    );
    const snap = mergePsListings(ids, procs, parsePsArgs('  501 curl -s\n'));
    expect(snap.processes).toEqual([
      { pid: 500, ppid: 1, uid: 501, start: Date.UTC(2026, 2, 2, 10) / 1000 },
      { pid: 501, ppid: 1, uid: 501, start: Date.UTC(2026, 2, 2, 10) / 1000, comm: '/usr/bin/curl', args: ['curl', '-s'] },
      { pid: 502, ppid: 400, uid: 501, start: Date.UTC(2026, 2, 2, 10) / 1000, comm: '/bin/ls' },
    ]);
    expect({ skipped: snap.skipped, forged: snap.forged, withheld: snap.withheld }).toEqual({ skipped: 1, forged: 0, withheld: 0 });
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

describe('ps listings: values and line ends ps may print', () => {
  it('keeps a process of uid -2 (nobody, as macOS ps prints it)', () => {
    const { rows, skipped } = parsePsIds('    1     0     0 Tue Mar  3 07:00:00 2026\n  377     1    -2 Tue Mar  3 07:00:09 2026\n');
    expect(rows.map((r) => [r.pid, r.uid])).toEqual([[1, 0], [377, -2]]);
    expect(skipped).toBe(0);
  });

  it('CRLF line ends (a capture saved on another system) read like LF in the procs and args listings', () => {
    const procs = parsePsProcesses('60311  4421   502 Tue Mar  3 09:48:12 2026 /opt/homebrew/bin/rclone\r\n');
    expect(procs.lines).toEqual([{ pid: 60311, ppid: 4421, uid: 502, start: 1772531292, comm: '/opt/homebrew/bin/rclone' }]);
    expect(parsePsArgs('60311 /opt/homebrew/bin/rclone copy /Users/dana/Documents remote:bucket\r\n').lines).toEqual([
      { pid: 60311, args: ['/opt/homebrew/bin/rclone', 'copy', '/Users/dana/Documents', 'remote:bucket'] },
    ]);
  });

  it('lstart is read as UTC (ps runs with TZ=UTC) whatever the zone of the process parsing it', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      expect(parseLstart(['Tue', 'Mar', '3', '09:48:12', '2026'])).toBe(Date.UTC(2026, 2, 3, 9, 48, 12) / 1000);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});
