/** Synthetic but format-exact nettop samples for the flow benchmarks (formats.md §2). */
const HEADER = 'time,,interface,state,bytes_in,bytes_out,rx_dupe,rx_ooo,re-tx,rtt_avg,rcvsize,tx_win,tc_class,tc_mgt,cc_algo,P,C,R,W,arch,';
export const PROCS = 200;
export const NOW = 1_772_531_000;

/** A realistic sample: `flows` flow rows spread over PROCS processes; `generation` shifts counters and churns 5% of ports. */
export function nettopSample(flows: number, generation: number): string {
  const perProc = Math.ceil(flows / PROCS);
  const lines = [HEADER];
  let n = 0;
  for (let p = 0; p < PROCS && n < flows; p++) {
    const pid = 10_000 + p;
    lines.push(`09:51:40.285101,Helper App ${p % 7}.${pid},,,${p * 10},${p * 100},0,0,0,,,,,,,,,,,,`);
    for (let f = 0; f < perProc && n < flows; f++, n++) {
      const churn = n % 20 === 0 ? generation : 0;
      const port = 49152 + ((n + churn * 7919) % 16000);
      const bytesIn = 1000 + n + generation * 3;
      const bytesOut = 5000 + n * 13 + generation * 4096;
      if (n % 3 === 0) {
        lines.push(`09:51:40.285109,tcp6 2001:db8::${p.toString(16)}.${port}<->2606:4700::${(n % 4096).toString(16)}.443,en0,Established,${bytesIn},${bytesOut},0,0,0,21.03 ms,131072,262144,BE,-,cubic,-,-,-,-,so,`);
      } else {
        lines.push(`09:51:40.285109,tcp4 10.20.${p % 250}.41:${port}<->198.51.${n % 250}.${(n >> 8) % 250}:443,en0,Established,${bytesIn},${bytesOut},0,0,1448,21.03 ms,131072,262144,BE,-,cubic,-,-,-,-,so,`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

