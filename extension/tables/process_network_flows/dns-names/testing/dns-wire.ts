/**
 * A DNS message encoder for tests, compressing names the way authoritative servers and resolvers do: every
 * name suffix already written is remembered and later occurrences become pointers to it. It shares no code
 * with parse-dns.ts, so a test built with it checks the parser against an independent writer.
 */

export interface RecordSpec {
  name: string;
  type: number;
  /** default 1 (IN) */
  class?: number;
  ttl: number;
  /** A: dotted quad; AAAA: 16 bytes hex or text via `aaaa()`; CNAME/DNAME/NS: a name; SOA: `soa()`; other: raw bytes */
  data: string | Buffer | { soa: { mname: string; rname: string; serial: number } };
}

export interface MessageSpec {
  id: number;
  /** QR, opcode, AA, TC, RD, RA, rcode as a 16-bit field */
  flags: number;
  questions: { name: string; type: number; class?: number }[];
  answers?: RecordSpec[];
  authority?: RecordSpec[];
  additional?: RecordSpec[];
  /** write names in full (no pointers) */
  noCompression?: boolean;
}

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, AAAA: 28, DNAME: 39, OPT: 41, TXT: 16 } as const;
/** QR + RD + RA, rcode NOERROR: what a recursive resolver answers. */
export const RESPONSE_FLAGS = 0x8180;
export const NXDOMAIN_FLAGS = 0x8183;

class Writer {
  private readonly parts: Buffer[] = [];
  length = 0;
  private readonly suffixes = new Map<string, number>();
  /** rdlength fields to fill in once the record's data is written */
  readonly patches = new Map<number, number>();
  constructor(private readonly compress: boolean) {}

  bytes(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.bytes(b);
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.bytes(b);
  }
  name(name: string): void {
    const labels = name === '' ? [] : name.split('.');
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const at = this.suffixes.get(suffix);
      if (this.compress && at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.length < 0x4000) this.suffixes.set(suffix, this.length);
      const label = Buffer.from(labels[i]!, 'latin1');
      this.bytes(Buffer.from([label.length]));
      this.bytes(label);
    }
    this.bytes(Buffer.from([0]));
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export function ipv6Bytes(text: string): Buffer {
  // groups only: a dotted-quad tail would be read as hex groups and encode another address without a word
  if (!/^[0-9a-fA-F:]+$/.test(text)) throw new Error(`ipv6Bytes takes hex groups only (write ::ffff:c0a8:101, not ::ffff:192.168.1.1): ${text}`);
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 * i));
  return b;
}

function record(w: Writer, r: RecordSpec): void {
  w.name(r.name);
  w.u16(r.type);
  w.u16(r.class ?? 1);
  w.u32(r.ttl);
  // rdlength is patched after the rdata, since compressed names make its size known only once written.
  const lengthAt = w.length;
  w.u16(0);
  const start = w.length;
  const d = r.data;
  if (Buffer.isBuffer(d)) w.bytes(d);
  else if (typeof d === 'object') {
    w.name(d.soa.mname);
    w.name(d.soa.rname);
    for (const v of [d.soa.serial, 7200, 3600, 1209600, 3600]) w.u32(v);
  } else if (r.type === TYPE.A) w.bytes(Buffer.from(d.split('.').map(Number)));
  else if (r.type === TYPE.AAAA) w.bytes(ipv6Bytes(d));
  else w.name(d);
  w.patches.set(lengthAt, w.length - start);
}

export function buildDnsMessage(m: MessageSpec): Buffer {
  const w = new Writer(!m.noCompression);
  w.u16(m.id);
  w.u16(m.flags);
  w.u16(m.questions.length);
  w.u16(m.answers?.length ?? 0);
  w.u16(m.authority?.length ?? 0);
  w.u16(m.additional?.length ?? 0);
  for (const q of m.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class ?? 1);
  }
  for (const r of [...(m.answers ?? []), ...(m.authority ?? []), ...(m.additional ?? [])]) record(w, r);
  const out = w.done();
  for (const [at, len] of w.patches) out.writeUInt16BE(len, at);
  return out;
}

/** The EDNS OPT pseudo-record resolvers add to the additional section (udp payload size 1232). */
export function ednsOpt(): RecordSpec {
  return { name: '', type: TYPE.OPT, class: 1232, ttl: 0, data: Buffer.alloc(0) };
}

/** A query as a stub resolver sends it (RD set, one question, EDNS). */
export function buildQuery(id: number, name: string, type: number): Buffer {
  return buildDnsMessage({ id, flags: 0x0100, questions: [{ name, type }], additional: [ednsOpt()] });
}

/** An answer as a resolver sends it: the question echoed, one A record. */
export function buildAnswer(id: number, name: string, address: string, ttl: number): Buffer {
  return buildDnsMessage({ id, flags: RESPONSE_FLAGS, questions: [{ name, type: TYPE.A }], answers: [{ name, type: TYPE.A, ttl, data: address }] });
}
