import { expect } from 'vitest';
import type { CapturedPacket } from '../parse-capture.js';
import { decodeUdp, type UdpDatagram } from '../decode-udp.js';
import { parseDnsMessage } from '../parse-dns.js';
import { SCENARIO, SERVER_V4, SERVER_V6 } from './scenario.js';

/**
 * Every captured packet, through all three parsers, is the scenario's exchanges in order, byte for byte: each
 * query the client sent, then the server's answer to it (from port 53 back to the query's port).
 */
export function expectScenario(packets: readonly CapturedPacket[], linkType: number): void {
  expect(packets).toHaveLength(2 * SCENARIO.length);
  SCENARIO.forEach((e, i) => {
    const server = e.family === 4 ? SERVER_V4 : SERVER_V6;
    const client = e.family === 4 ? '127.0.0.1' : '::1';
    const [query, answer] = [packets[2 * i]!, packets[2 * i + 1]!].map((p, j): UdpDatagram => {
      expect(p.linkType).toBe(linkType);
      expect(p.origLen).toBe(p.data.length);
      // Captured this decade; a wrong timestamp divisor or byte order lands far outside.
      expect(p.tsSec).toBeGreaterThan(1_700_000_000);
      expect(p.tsSec).toBeLessThan(2_100_000_000);
      const d = decodeUdp(p.linkType, p.data);
      if (!d.ok) throw new Error(`packet ${2 * i + j} did not decode: ${d.reason}`);
      return d.datagram;
    }) as [UdpDatagram, UdpDatagram];
    expect(query).toMatchObject({ family: e.family, srcAddress: client, dstAddress: server, dstPort: 53 });
    expect(query.payload.equals(e.query)).toBe(true);
    expect(parseDnsMessage(query.payload)).toMatchObject({ id: e.id, response: false, questions: e.expect.questions.map((q) => ({ ...q })) });
    expect(answer).toMatchObject({ family: e.family, srcAddress: server, srcPort: 53, dstAddress: client, dstPort: query.srcPort });
    expect(answer.payload.equals(e.response)).toBe(true);
    expect(parseDnsMessage(answer.payload)).toEqual({ id: e.id, response: true, opcode: 0, truncated: false, ...e.expect });
  });
}

