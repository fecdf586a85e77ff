import { describe, expect, it } from 'vitest';
import { DnsFormatError, MAX_DNS_RECORDS, parseDnsMessage } from './parse-dns.js';
import { RESPONSE_FLAGS, TYPE, buildDnsMessage, type MessageSpec } from './testing/dns-wire.js';
import { SCENARIO } from './testing/scenario.js';

function expectDnsError(buf: Buffer, message: RegExp): void {
  let caught: unknown;
  try {
    parseDnsMessage(buf);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DnsFormatError);
  expect((caught as DnsFormatError).code).toBe('DNS_FORMAT');
  expect((caught as DnsFormatError).message).toMatch(message);
}

/** Header + raw body: for messages no encoder would write. */
function raw(counts: { qd?: number; an?: number; ns?: number; ar?: number }, body: number[] | Buffer, flags = RESPONSE_FLAGS): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0xbeef, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(counts.qd ?? 0, 4);
  h.writeUInt16BE(counts.an ?? 0, 6);
  h.writeUInt16BE(counts.ns ?? 0, 8);
  h.writeUInt16BE(counts.ar ?? 0, 10);
  return Buffer.concat([h, Buffer.from(body)]);
}

const label = (s: string): number[] => [s.length, ...Buffer.from(s, 'latin1')];
/** type, class IN, ttl, rdlength */
const rrHead = (type: number, rdlength: number, ttl = 60): number[] => [type >> 8, type & 255, 0, 1, ttl >>> 24, (ttl >> 16) & 255, (ttl >> 8) & 255, ttl & 255, rdlength >> 8, rdlength & 255];
const QTAIL_A = [0, 1, 0, 1];

const answer = (spec: Omit<MessageSpec, 'id' | 'flags' | 'questions'> & { questions?: MessageSpec['questions'] }) =>
  buildDnsMessage({ id: 7, flags: RESPONSE_FLAGS, questions: [{ name: 'q.example', type: TYPE.A }], ...spec });

describe('parseDnsMessage on realistic responses', () => {
  it.each(SCENARIO)('answer $id: CNAME chain, compression into earlier rdata, NXDOMAIN with SOA, 0x20 case', (e) => {
    expect(parseDnsMessage(e.response)).toEqual({ id: e.id, response: true, opcode: 0, truncated: false, ...e.expect });
  });

  it('reads the same message written without compression the same way', () => {
    const e = SCENARIO[0]!;
    const spec: MessageSpec = {
      id: e.id,
      flags: RESPONSE_FLAGS,
      questions: [{ name: 'www.example.com', type: TYPE.A }],
      answers: [
        { name: 'www.example.com', type: TYPE.CNAME, ttl: 300, data: 'www.example.com.edgekey.net' },
        { name: 'www.example.com.edgekey.net', type: TYPE.CNAME, ttl: 60, data: 'e6858.dscx.akamaiedge.net' },
        { name: 'e6858.dscx.akamaiedge.net', type: TYPE.A, ttl: 20, data: '23.215.0.136' },
        { name: 'e6858.dscx.akamaiedge.net', type: TYPE.A, ttl: 20, data: '23.215.0.138' },
      ],
    };
    const plain = buildDnsMessage({ ...spec, noCompression: true });
    const packed = buildDnsMessage(spec);
    expect(plain.length).toBeGreaterThan(packed.length);
    expect(parseDnsMessage(plain)).toEqual(parseDnsMessage(packed));
    expect(parseDnsMessage(plain).answers).toEqual(e.expect.answers);
  });

  it('decodes the header flags: query vs response, opcode, TC, rcode', () => {
    const q = parseDnsMessage(buildDnsMessage({ id: 0x1234, flags: 0x0100, questions: [{ name: 'a.example', type: TYPE.A }] }));
    expect(q).toMatchObject({ id: 0x1234, response: false, opcode: 0, rcode: 0, truncated: false, answers: [] });
    // QR, opcode 2 (STATUS), TC, rcode 2 (SERVFAIL)
    const m = parseDnsMessage(buildDnsMessage({ id: 1, flags: 0x8000 | (2 << 11) | 0x0200 | 2, questions: [] }));
    expect(m).toMatchObject({ response: true, opcode: 2, truncated: true, rcode: 2 });
  });

  it('gives DNAME targets, leaves other types and other classes without data, and clamps TTLs with the top bit set', () => {
    const m = parseDnsMessage(
      answer({
        answers: [
          { name: 'old.example', type: TYPE.DNAME, ttl: 10, data: 'new.example' },
          { name: 'q.example', type: TYPE.TXT, ttl: 10, data: Buffer.from('\x05hello') },
          // CHAOS-class A records hold a name and an address, not an IPv4 address.
          { name: 'q.example', type: TYPE.A, class: 3, ttl: 10, data: Buffer.from('\x00\x00\x01\x02\x03\x04\x05') },
          { name: 'q.example', type: TYPE.A, ttl: 0x80000000, data: '192.0.2.1' },
        ],
      }),
    );
    expect(m.answers).toEqual([
      { name: 'old.example', type: TYPE.DNAME, ttl: 10, data: 'new.example' },
      { name: 'q.example', type: TYPE.TXT, ttl: 10, data: '' },
      { name: 'q.example', type: TYPE.A, ttl: 10, data: '' },
      { name: 'q.example', type: TYPE.A, ttl: 0, data: '192.0.2.1' },
    ]);
  });

  it('keys a v4-mapped AAAA answer as the IPv4 address, the way canonicalIp keys flow addresses', () => {
    const m = parseDnsMessage(answer({ answers: [{ name: 'q.example', type: TYPE.AAAA, ttl: 5, data: '::ffff:c000:201' }] }));
    expect(m.answers[0]!.data).toBe('192.0.2.1');
  });

  it('gives the root name as the empty string', () => {
    const m = parseDnsMessage(buildDnsMessage({ id: 1, flags: RESPONSE_FLAGS, questions: [{ name: '', type: TYPE.NS }] }));
    expect(m.questions).toEqual([{ name: '', type: TYPE.NS, class: 1 }]);
  });

  it('never reads authority or additional records: junk there does not matter', () => {
    const good = answer({ answers: [{ name: 'q.example', type: TYPE.A, ttl: 5, data: '192.0.2.9' }] });
    const withJunk = Buffer.concat([good, Buffer.from([0xc0, 0xff, 0x3f])]);
    withJunk.writeUInt16BE(5, 8); // 5 authority records that are not there
    withJunk.writeUInt16BE(9, 10);
    expect(parseDnsMessage(withJunk).answers).toEqual([{ name: 'q.example', type: TYPE.A, ttl: 5, data: '192.0.2.9' }]);
  });
});

describe('parseDnsMessage label text', () => {
  it('escapes a dot inside a label so it cannot forge a label boundary', () => {
    const m = parseDnsMessage(raw({ qd: 1 }, [...label('evil.bank'), ...label('example'), 0, ...QTAIL_A]));
    expect(m.questions[0]!.name).toBe('evil\\046bank.example');
    const real = parseDnsMessage(raw({ qd: 1 }, [...label('evil'), ...label('bank'), ...label('example'), 0, ...QTAIL_A]));
    expect(real.questions[0]!.name).toBe('evil.bank.example');
  });

  it('escapes backslash, space, control and non-ASCII bytes as \\DDD and lower-cases ASCII letters only', () => {
    const weird = Buffer.from([0x41, 0x5c, 0x20, 0x00, 0x7f, 0xc9, 0x5a, 0x7e]);
    const m = parseDnsMessage(raw({ qd: 1 }, [weird.length, ...weird, 0, ...QTAIL_A]));
    expect(m.questions[0]!.name).toBe('a\\092\\032\\000\\127\\201z~');
  });

  it('a literal backslash-digits label does not read like an escaped dot', () => {
    const m = parseDnsMessage(raw({ qd: 1 }, [...label('a\\046b'), 0, ...QTAIL_A]));
    expect(m.questions[0]!.name).toBe('a\\092046b');
  });
});

describe('parseDnsMessage rejects malformed messages', () => {
  it('a header shorter than 12 bytes', () => {
    expectDnsError(Buffer.alloc(11), /shorter than the 12-byte header/);
  });

  it('a compression loop made of pointers that each point backwards', () => {
    // offset 12: label "a", offset 14: pointer to 12 → a.a.a.… for ever
    expectDnsError(raw({ qd: 1 }, [1, 0x61, 0xc0, 12, ...QTAIL_A]), /compression loop: pointer at offset 14 to 12/);
  });

  it('a pointer to itself', () => {
    expectDnsError(raw({ qd: 1 }, [0xc0, 12, ...QTAIL_A]), /forward compression pointer at offset 12 to 12/);
  });

  it('a forward pointer', () => {
    expectDnsError(raw({ qd: 1 }, [0xc0, 18, ...QTAIL_A, 0]), /forward compression pointer at offset 12 to 18/);
  });

  it('a loop entered on the second hop, from a first pointer that is fine', () => {
    // Answer 1 (TXT, whose rdata is never read as a name) holds at 23: label "c", then a pointer back to 23.
    // Answer 2's owner at 27 points to 23 (fine), whose labels then point back into themselves.
    const body = [0, ...rrHead(TYPE.TXT, 4), 1, 0x63, 0xc0, 23, 0xc0, 23, ...rrHead(TYPE.A, 4), 1, 2, 3, 4];
    expectDnsError(raw({ an: 2 }, body), /compression loop: pointer at offset 25 to 23/);
  });

  function pointerChain(hops: number): Buffer {
    // Answer 1 (TXT, never followed as names) holds a root label and a chain of pointers each to the one before;
    // answer 2's name points at the last, so reading it takes `hops` pointers in all.
    const base = 12 + 1 + 10; // header, root owner name, rr head: rdata starts here
    const rdata: number[] = [0];
    for (let i = 1; i < hops; i++) {
      const target = base + (i === 1 ? 0 : 1 + 2 * (i - 2));
      rdata.push(0xc0 | (target >> 8), target & 255);
    }
    const last = base + (hops === 1 ? 0 : 1 + 2 * (hops - 2));
    return raw({ an: 2 }, [0, ...rrHead(TYPE.TXT, rdata.length), ...rdata, 0xc0 | (last >> 8), last & 255, ...rrHead(TYPE.A, 4), 192, 0, 2, 1]);
  }

  it('a pointer chain longer than 64 hops, while 64 hops still parse', () => {
    expect(parseDnsMessage(pointerChain(64)).answers[1]).toEqual({ name: '', type: TYPE.A, ttl: 60, data: '192.0.2.1' });
    expectDnsError(pointerChain(65), /follows more than 64 compression pointers/);
  });

  it('a name longer than 255 bytes, in place or assembled through a pointer', () => {
    const l63 = label('x'.repeat(63));
    const ok = [...l63, ...l63, ...l63, ...label('y'.repeat(61)), 0]; // 3×64 + 62 + 1 = 255
    expect(parseDnsMessage(raw({ qd: 1 }, [...ok, ...QTAIL_A])).questions[0]!.name).toHaveLength(253);
    expectDnsError(raw({ qd: 1 }, [...l63, ...l63, ...l63, ...l63, 0, ...QTAIL_A]), /longer than 255 bytes/);
    // a 200-byte question name, then an answer owner of one 60-byte label + a pointer to it: 261 bytes
    const q200 = [...l63, ...l63, ...l63, ...label('z'.repeat(7)), 0];
    expectDnsError(raw({ qd: 1, an: 1 }, [...q200, ...QTAIL_A, ...label('w'.repeat(60)), 0xc0, 12, ...rrHead(TYPE.A, 4), 1, 2, 3, 4]), /longer than 255 bytes/);
  });

  it('rdata running past the end of the message', () => {
    const good = answer({ answers: [{ name: 'q.example', type: TYPE.A, ttl: 5, data: '192.0.2.9' }] });
    const bad = Buffer.from(good);
    bad.writeUInt16BE(100, bad.length - 6);
    expectDnsError(bad, /answer 1 rdata needs 100 bytes/);
    expectDnsError(good.subarray(0, good.length - 1), /answer 1 rdata needs 4 bytes/);
  });

  it('a record cut inside its fixed fields or its name', () => {
    const good = answer({ answers: [{ name: 'q.example', type: TYPE.A, ttl: 5, data: '192.0.2.9' }] });
    expectDnsError(good.subarray(0, good.length - 8), /answer 1 needs 10 bytes/);
    expectDnsError(raw({ qd: 1 }, [...label('abc')]), /runs past the end/);
    expectDnsError(raw({ qd: 1 }, [5, 0x61]), /label at offset 12 needs 5 bytes/);
    expectDnsError(raw({ qd: 1 }, [0, 0, 1]), /question 1 needs 4 bytes/);
  });

  it('an answer count of 65535 and a question count of 65, while 64 answers still parse', () => {
    expectDnsError(raw({ qd: 1, an: 65535 }, [0, ...QTAIL_A]), /65535 answers/);
    expectDnsError(raw({ qd: 65 }, []), /65 questions/);
    const many = answer({ answers: Array.from({ length: MAX_DNS_RECORDS }, (_, i) => ({ name: 'q.example', type: TYPE.A, ttl: 1, data: `10.0.0.${i}` })) });
    expect(parseDnsMessage(many).answers).toHaveLength(64);
  });

  it('A and AAAA records of the wrong size', () => {
    expectDnsError(answer({ answers: [{ name: 'q.example', type: TYPE.A, ttl: 5, data: Buffer.from([1, 2, 3, 4, 5]) }] }), /A record with 5 bytes of data \(expected 4\)/);
    expectDnsError(answer({ answers: [{ name: 'q.example', type: TYPE.AAAA, ttl: 5, data: Buffer.from([1, 2, 3, 4]) }] }), /AAAA record with 4 bytes of data \(expected 16\)/);
  });

  it('a CNAME whose target does not fill its rdata exactly', () => {
    const m = answer({ answers: [{ name: 'q.example', type: TYPE.CNAME, ttl: 5, data: Buffer.from([1, 0x61, 0, 0xff]) }] });
    expectDnsError(m, /target name takes 3 bytes of a 4-byte rdata/);
  });

  it('extended (0x40) and reserved (0x80) label types', () => {
    expectDnsError(raw({ qd: 1 }, [0x41, 0, ...QTAIL_A]), /label type 0x40 at offset 12/);
    expectDnsError(raw({ qd: 1 }, [0x81, 0, ...QTAIL_A]), /label type 0x80 at offset 12/);
  });
});
