import { beforeAll, describe, expect, it } from 'vitest';
import { CaptureStreamParser, type CapturedPacket } from './parse-capture.js';
import { LINK } from './decode-udp.js';
import { SCENARIO } from './testing/scenario.js';
import { captureFixtures, SCENARIO_FILTER, serveScenario, type Capture } from './testing/live-capture.js';
import { expectScenario } from './testing/expect-scenario.js';

/**
 * The real tcpdump on loopback, in the link types and timestamp precisions Linux hosts produce, with its stdout
 * fed to the parser chunk by chunk as the pipe delivered it. `OUTFLOW_UPDATE_DNS_FIXTURES=1` rewrites
 * fixtures/*.pcap from these captures (they hold only loopback traffic of the scripted server).
 */

const VARIANTS = [
  { fixture: 'dns-lo-en10mb.pcap', args: ['-i', 'lo'], linkType: LINK.EN10MB },
  { fixture: 'dns-lo-en10mb-nano.pcap', args: ['-i', 'lo', '--time-stamp-precision=nano'], linkType: LINK.EN10MB },
  { fixture: 'dns-any-sll2.pcap', args: ['-i', 'any'], linkType: LINK.LINUX_SLL2 },
  { fixture: 'dns-any-sll.pcap', args: ['-i', 'any', '-y', 'LINUX_SLL'], linkType: LINK.LINUX_SLL },
] as const;

let captures = new Map<string, Capture>();
/** A capture that could not run (no tcpdump, no root) fails every test below by name rather than skipping them. */
let captureError: unknown;

beforeAll(async () => {
  try {
    captures = await captureFixtures(VARIANTS, SCENARIO_FILTER, 2 * SCENARIO.length, () => serveScenario(SCENARIO));
  } catch (err) {
    captureError = err;
  }
});

describe('live tcpdump capture of DNS queries and answers on loopback', () => {
  it.each(VARIANTS)('$args: stdout chunks parse into the scenario queries and answers', (v) => {
    if (captureError) throw captureError;
    const capture = captures.get(v.fixture)!;
    const parser = new CaptureStreamParser();
    const packets: CapturedPacket[] = capture.chunks.flatMap((c) => parser.push(c));
    expect(parser.format).toBe('pcap');
    expect(parser.pending).toBe(0);
    expect(parser.stats).toEqual({ packets: 2 * SCENARIO.length, skippedBlocks: 0 });
    expectScenario(packets, v.linkType);
  });
});
