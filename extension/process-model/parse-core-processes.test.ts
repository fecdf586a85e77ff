import { describe, expect, it } from 'vitest';
import { CORE_PROCESS_PATHS_SQL, parseCoreProcessPaths } from './parse-core-processes.js';

// What ExtensionManager.query returns for `SELECT pid, path FROM processes` on macOS: every value a string;
// kernel_task (pid 0) and zombies with an empty path (osquery's darwin processes.cpp: proc_pidpath is not
// called for a zombie).
const macRows = [
  { pid: '0', path: '' },
  { pid: '1', path: '/sbin/launchd' },
  { pid: '412', path: '/usr/libexec/logd' },
  { pid: '4419', path: '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal' },
  { pid: '4471', path: '/Library/Application Support/Backup Agent/Backup Agent Helper' },
  { pid: '60311', path: '/opt/homebrew/Cellar/rclone/1.68.2/bin/rclone' },
  { pid: '60999', path: '' },
];

describe('parseCoreProcessPaths', () => {
  it('asks core for the two columns it needs only', () => {
    expect(CORE_PROCESS_PATHS_SQL).toBe('SELECT pid, path FROM processes');
  });

  it('maps each pid to its kernel path; kernel_task and zombies have none', () => {
    const r = parseCoreProcessPaths(macRows);
    expect(r.paths.get(60311)).toBe('/opt/homebrew/Cellar/rclone/1.68.2/bin/rclone');
    expect(r.paths.get(4471)).toBe('/Library/Application Support/Backup Agent/Backup Agent Helper');
    expect([...r.paths.keys()].sort((a, b) => a - b)).toEqual([1, 412, 4419, 4471, 60311]);
    expect(r).toMatchObject({ rejected: 0, empty: 2 });
  });

  it('counts rows that cannot be a (pid, executable path) pair and believes none of them', () => {
    const r = parseCoreProcessPaths([
      { pid: '501', path: 'rclone' },
      { pid: '502', path: `/tmp/${'a'.repeat(1100)}` },
      { pid: '503', path: '/tmp/a\0/Applications/Safari.app' },
      { pid: '-4', path: '/bin/sh' },
      { pid: '12abc', path: '/bin/sh' },
      { pid: '99999999999', path: '/bin/sh' },
      { pid: '504' },
      { path: '/bin/sh' },
      { pid: '505', path: '/bin/zsh' },
    ]);
    expect([...r.paths]).toEqual([[505, '/bin/zsh']]);
    expect(r).toMatchObject({ rejected: 8, empty: 0 });
  });

  it('a pid listed twice is believed for neither row (one process holds a pid at a time)', () => {
    const r = parseCoreProcessPaths([
      { pid: '700', path: '/Applications/Safari.app/Contents/MacOS/Safari' },
      { pid: '700', path: '/tmp/x' },
      { pid: '700', path: '/tmp/y' },
      { pid: '701', path: '/bin/ls' },
    ]);
    expect([...r.paths]).toEqual([[701, '/bin/ls']]);
    expect(r.rejected).toBe(3);
  });

  it('an empty answer (core listed nothing, or a truncated reply that decoded to no rows) gives no paths', () => {
    expect(parseCoreProcessPaths([])).toEqual({ paths: new Map(), rejected: 0, empty: 0 });
  });
});

describe('parseCoreProcessPaths: pids no process holds', () => {
  it('a pid beyond pid_t (2^31 - 1) and pid 0 (kernel_task) never get a path', () => {
    const r = parseCoreProcessPaths([
      { pid: '4294967295', path: '/bin/sh' },
      { pid: '0', path: '/System/Library/Kernels/kernel' },
      { pid: '2147483647', path: '/bin/zsh' },
    ]);
    expect([...r.paths]).toEqual([[2147483647, '/bin/zsh']]);
    expect(r).toMatchObject({ rejected: 1, empty: 1 });
  });
});
