import { expect } from 'vitest';
import type { CapturedPacket } from '../parse-capture.js';
import { decodeUdp } from '../decode-udp.js';
import { parseDnsMessage } from '../parse-dns.js';
import { SCENARIO, SERVER_V4, SERVER_V6 } from './scenario.js';

/** Every captured packet, through all three parsers, is the scenario's answer in order, byte for byte. */
export function expectScenario(packets: readonly CapturedPacket[], linkType: number): void {
  expect(packets).toHaveLength(SCENARIO.length);
  packets.forEach((p, i) => {
    const e = SCENARIO[i]!;
    expect(p.linkType).toBe(linkType);
    expect(p.origLen).toBe(p.data.length);
    // Captured this decade; a wrong timestamp divisor or byte order lands far outside.
    expect(p.tsSec).toBeGreaterThan(1_700_000_000);
    expect(p.tsSec).toBeLessThan(2_100_000_000);
    const d = decodeUdp(p.linkType, p.data);
    if (!d.ok) throw new Error(`packet ${i} did not decode: ${d.reason}`);
    const server = e.family === 4 ? SERVER_V4 : SERVER_V6;
    expect(d.datagram).toMatchObject({ family: e.family, srcAddress: server, srcPort: 53 });
    expect(d.datagram.dstAddress).toBe(e.family === 4 ? '127.0.0.1' : '::1');
    expect(d.datagram.dstPort).not.toBe(53);
    expect(d.datagram.payload.equals(e.response)).toBe(true);
    const m = parseDnsMessage(d.datagram.payload);
    expect(m).toEqual({ id: e.id, response: true, opcode: 0, truncated: false, ...e.expect });
  });
}
