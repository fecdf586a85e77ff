/**
 * A process names itself by the file it runs, and a file name may hold a newline. nettop prints names raw
 * (unquoted CSV; formats.md §2.3 lists spaces, dots, parentheses, a trailing space — no escaping is documented),
 * so such a process row comes out over two lines.
 */
import { describe, expect, it } from 'vitest';
import { parseNettop } from './parse-nettop.js';

const H = 'time,,interface,state,bytes_in,bytes_out,rx_dupe,rx_ooo,re-tx,rtt_avg,rcvsize,tx_win,tc_class,tc_mgt,cc_algo,P,C,R,W,arch,';
const FLOW = (port: number) => `09:51:40.2,tcp4 10.0.0.5:${port}<->198.51.100.23:443,en0,Established,3311,8126464,0,0,0,21.03 ms,131072,262144,BE,-,cubic,-,-,-,-,so,`;

describe('parseNettop: a process name holding a newline', () => {
  it('keeps the process row and its flows', () => {
    const text = [H, '09:51:40.1,launchd.1,,,0,0,0,0,0,,,,,,,,,,,,', '09:51:40.1,up', 'load.4242,,,3311,8126464,0,0,0,,,,,,,,,,,,', FLOW(50712), FLOW(50713), ''].join('\n');
    const r = parseNettop(text);
    expect(r.processes.map((p) => [p.pid, p.processName])).toEqual([[1, 'launchd'], [4242, 'up\nload']]);
    expect(r.rows.map((f) => [f.pid, f.local.port])).toEqual([[4242, 50712], [4242, 50713]]);
    expect(r.skipped).toBe(0);
  });

  it('still skips a row cut short at the end of the output, and a truncated row never swallows the next one', () => {
    const text = [H, '09:51:40.1,rclone.60311,,,0,0,0,0,0,,,,,,,,,,,,', FLOW(1), '09:51:40.2,tcp4 10.0.0.5:2<->198.51.100.23:443,en0,Establ', FLOW(3), '09:51:40.2,tcp4 10.0.0.5:4<->198.51.100'].join('\n');
    const r = parseNettop(text);
    expect(r.rows.map((f) => [f.pid, f.local.port])).toEqual([[60311, 1], [60311, 3]]);
    expect(r.skipped).toBe(2);
  });
});
