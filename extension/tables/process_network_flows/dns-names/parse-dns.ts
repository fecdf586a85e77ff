import { canonicalIp, formatIpv4, formatIpv6 } from './decode-udp.js';

/**
 * Pure parser for a DNS message in RFC 1035 wire format, reading the header, the questions and the answer
 * section only: authority and additional records are never read (nothing there says which name an address
 * answered). Every length is checked against the message; anything inconsistent is a DnsFormatError.
 */

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsAnswer {
  name: string;
  type: number;
  ttl: number;
  /** A/AAAA: canonical address text; CNAME/DNAME: target name; otherwise '' */
  data: string;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  opcode: number;
  rcode: number;
  truncated: boolean;
  questions: DnsQuestion[];
  answers: DnsAnswer[];
}

export class DnsFormatError extends Error {
  override name = 'DnsFormatError';
  readonly code = 'DNS_FORMAT';
  constructor(problem: string) {
    super(`malformed DNS message: ${problem}; drop this message (the capture itself can go on)`);
  }
}

export const DNS_TYPE = { A: 1, CNAME: 5, AAAA: 28, DNAME: 39 } as const;
const CLASS_IN = 1;
const HEADER = 12;
/** A real response carries one question and a handful of answers; more is junk or an attempt to make us work. */
export const MAX_DNS_RECORDS = 64;
/** Pointer hops in one name; a legitimate name needs a few. */
const MAX_POINTER_HOPS = 64;
/** RFC 1035 §3.1: a name is at most 255 octets on the wire, length octets and the root label included. */
const MAX_NAME_WIRE = 255;

export function parseDnsMessage(buf: Buffer): DnsMessage {
  if (buf.length < HEADER) throw new DnsFormatError(`${buf.length} bytes is shorter than the 12-byte header`);
  const flags = buf.readUInt16BE(2);
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  if (qdcount > MAX_DNS_RECORDS || ancount > MAX_DNS_RECORDS) {
    throw new DnsFormatError(`header counts ${qdcount} questions and ${ancount} answers (at most ${MAX_DNS_RECORDS} each are accepted)`);
  }
  let off = HEADER;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qdcount; i++) {
    const { name, end } = readName(buf, off);
    need(buf, end, 4, `question ${i + 1}`);
    questions.push({ name, type: buf.readUInt16BE(end), class: buf.readUInt16BE(end + 2) });
    off = end + 4;
  }
  const answers: DnsAnswer[] = [];
  for (let i = 0; i < ancount; i++) {
    const what = `answer ${i + 1}`;
    const { name, end } = readName(buf, off);
    need(buf, end, 10, what);
    const type = buf.readUInt16BE(end);
    const klass = buf.readUInt16BE(end + 2);
    const rawTtl = buf.readUInt32BE(end + 4);
    const rdlength = buf.readUInt16BE(end + 8);
    const rdata = end + 10;
    need(buf, rdata, rdlength, `${what} rdata`);
    answers.push({ name, type, ttl: rawTtl > 0x7fffffff ? 0 : rawTtl, data: rdataText(buf, type, klass, rdata, rdlength, what) });
    off = rdata + rdlength;
  }
  return {
    id: buf.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0x0f,
    rcode: flags & 0x0f,
    truncated: (flags & 0x0200) !== 0,
    questions,
    answers,
  };
}

function need(buf: Buffer, at: number, bytes: number, what: string): void {
  if (at + bytes > buf.length) throw new DnsFormatError(`${what} needs ${bytes} bytes at offset ${at} but the message ends at ${buf.length}`);
}

function rdataText(buf: Buffer, type: number, klass: number, at: number, length: number, what: string): string {
  // Record layouts of other classes (CHAOS A holds a name) are not addresses.
  if (klass !== CLASS_IN) return '';
  if (type === DNS_TYPE.A) {
    if (length !== 4) throw new DnsFormatError(`${what}: A record with ${length} bytes of data (expected 4)`);
    return formatIpv4(buf, at);
  }
  if (type === DNS_TYPE.AAAA) {
    if (length !== 16) throw new DnsFormatError(`${what}: AAAA record with ${length} bytes of data (expected 16)`);
    // A v4-mapped AAAA names the same host as the A answer would: give it the key canonicalIp gives flow addresses.
    return canonicalIp(formatIpv6(buf, at))!;
  }
  if (type === DNS_TYPE.CNAME || type === DNS_TYPE.DNAME) {
    const { name, end } = readName(buf, at);
    if (end !== at + length) throw new DnsFormatError(`${what}: target name takes ${end - at} bytes of a ${length}-byte rdata`);
    return name;
  }
  return '';
}

/**
 * A possibly compressed name at `start`; `end` is the offset after it in place (after the first pointer).
 * Each pointer must point before where the labels being read began: an encoder only points at names it wrote
 * earlier, and the rule makes every jump go strictly backwards, so loops end as errors.
 */
function readName(buf: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = start;
  let runStart = start;
  let end = -1;
  let hops = 0;
  let wire = 1; // the root label
  for (;;) {
    if (at >= buf.length) throw new DnsFormatError(`name at offset ${start} runs past the end of the message`);
    const len = buf[at]!;
    if (len === 0) {
      if (end < 0) end = at + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      need(buf, at, 2, `compression pointer in the name at offset ${start}`);
      const target = buf.readUInt16BE(at) & 0x3fff;
      if (target >= at) throw new DnsFormatError(`forward compression pointer at offset ${at} to ${target} in the name at offset ${start}`);
      if (target >= runStart) throw new DnsFormatError(`compression loop: pointer at offset ${at} to ${target} re-enters the labels it follows in the name at offset ${start}`);
      if (++hops > MAX_POINTER_HOPS) throw new DnsFormatError(`name at offset ${start} follows more than ${MAX_POINTER_HOPS} compression pointers`);
      if (end < 0) end = at + 2;
      at = target;
      runStart = target;
      continue;
    }
    if (kind !== 0) throw new DnsFormatError(`label type 0x${kind.toString(16)} at offset ${at} (only plain labels and pointers exist)`);
    need(buf, at + 1, len, `label at offset ${at}`);
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) throw new DnsFormatError(`name at offset ${start} is longer than ${MAX_NAME_WIRE} bytes`);
    labels.push(labelText(buf, at + 1, len));
    at += 1 + len;
  }
  return { name: labels.join('.'), end };
}

/**
 * Lower-cased label text; '.', '\' and every byte outside printable ASCII (space included) become `\DDD`
 * (RFC 4343 §2.1), so a label can never read as two and distinct labels never read alike.
 */
function labelText(buf: Buffer, at: number, len: number): string {
  let s = '';
  for (let i = at; i < at + len; i++) {
    let c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c) s += `\\${String(c).padStart(3, '0')}`;
    else s += String.fromCharCode(c);
  }
  return s;
}
