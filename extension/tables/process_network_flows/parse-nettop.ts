import { ipv4ToInt, normalizeAddress } from '../../../src/classify/network.js';
import { ParseError } from '../../../src/errors.js';

/**
 * Pure parser for `nettop -x -n [-d] -L N` CSV output (formats.md §2). Columns are found by header name
 * (positions differ between macOS versions and with -J); the row label is the first empty header. Flow rows
 * belong to the closest preceding process row (`NAME.PID`, split at the last dot). Each header line starts a
 * new sample; rows carry their sample index so callers can tell cumulative sample 1 from later deltas.
 */

export interface NettopEndpoint {
  /** Normalised address; '*' for a wildcard. */
  address: string;
  /** 0 for a wildcard port. */
  port: number;
  wildcard: boolean;
  family: 4 | 6;
}

export interface NettopFlow {
  /** 0-based index of the sample (header) the row belongs to. */
  sample: number;
  pid: number;
  /** As nettop prints it: truncated to 15 characters, may contain spaces, dots, parentheses. */
  processName: string;
  protocol: 'tcp' | 'udp';
  /** quic4/quic6 rows: the OS itself classified the flow as QUIC. */
  quic: boolean;
  family: 4 | 6;
  local: NettopEndpoint;
  remote: NettopEndpoint;
  interface: string;
  state: string;
  /** Empty counter fields (listeners, unconnected sockets) parse as 0. */
  bytesIn: number;
  bytesOut: number;
}

export interface NettopProcessRow {
  sample: number;
  pid: number;
  processName: string;
  bytesIn: number;
  bytesOut: number;
}

export interface NettopParseResult {
  rows: NettopFlow[];
  processes: NettopProcessRow[];
  /** Number of header lines seen (= samples). */
  samples: number;
  /** Lines that were neither header, process nor flow rows, or were truncated / malformed. */
  skipped: number;
}

interface Header {
  width: number;
  label: number;
  iface: number;
  state: number;
  /** `so` on every flow row, empty on process rows (formats.md §2.3; its meaning is not known); -1 when absent. */
  arch: number;
  /** The header ends with a comma (an empty last field): so does every whole row (formats.md §2.2). */
  trailingComma: boolean;
  bytesIn: number;
  bytesOut: number;
}

const PROCESS_LABEL = /^([\s\S]*)\.(\d+)$/;
/** A field no header prints: a number, or a process label's `.PID` end. */
const HEADER_NOT_NAME = /^\d+$|\.\d+$/;

function parseHeader(fields: string[]): Header | undefined {
  const index = (name: string) => fields.indexOf(name);
  const bytesIn = index('bytes_in');
  const bytesOut = index('bytes_out');
  const label = fields.indexOf('');
  if (bytesIn < 0 || bytesOut < 0 || label < 0 || label === fields.length - 1) return undefined;
  // A process row whose name holds `bytes_in,bytes_out,` has both words as fields too; it also has its
  // `.PID` and its counters, which no column name is.
  if (fields.some((f) => HEADER_NOT_NAME.test(f))) return undefined;
  return { width: fields.length, label, iface: index('interface'), state: index('state'), arch: index('arch'), bytesIn, bytesOut, trailingComma: fields[fields.length - 1] === '' };
}

/**
 * Counter field [start, end) of `line` → bytes without allocating: empty (or blanks) is 0 (formats.md §2.3);
 * anything but digits is undefined (e.g. "1.2 MiB" when -x was not honoured).
 */
function counterAt(line: string, start: number, end: number): number | undefined {
  while (start < end && line.charCodeAt(start) === 32) start++;
  while (end > start && line.charCodeAt(end - 1) === 32) end--;
  if (start === end) return 0;
  if (end - start > 15) return undefined; // beyond 2^53: not a byte count we can represent
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return n;
}

/**
 * `a.b.c.d:port`, `*:*`, `*:5353` for IPv4; `addr.port`, `*.*`, `fe80::1%en0.port` for IPv6 (port after
 * the last dot). The IPv4 form is tried first because tcp6 sockets can carry IPv4 peers.
 */
export function parseNettopEndpoint(text: string, protoFamily: 4 | 6): NettopEndpoint | undefined {
  const colon = text.lastIndexOf(':');
  // One colon: IPv4 `addr:port` (or `*:port`); otherwise IPv6 with the port after the last dot.
  const v4Form = colon > 0 && text.indexOf(':') === colon;
  const sep = v4Form ? colon : text.lastIndexOf('.');
  if (sep <= 0) return undefined;
  const addr = text.slice(0, sep);
  let port = 0;
  if (!(sep === text.length - 2 && text.charCodeAt(sep + 1) === 42)) {
    const digits = text.length - sep - 1;
    if (digits < 1 || digits > 5) return undefined;
    for (let i = sep + 1; i < text.length; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return undefined;
      port = port * 10 + d;
    }
    if (port > 65535) return undefined;
  }
  if (addr === '*') return { address: '*', port, wildcard: true, family: protoFamily };
  if (v4Form ? ipv4ToInt(addr) === undefined : !addr.includes(':')) return undefined;
  const norm = normalizeAddress(addr);
  if (!norm.valid) return undefined;
  return { address: norm.address, port, wildcard: false, family: norm.family };
}

const PROTOCOLS: Record<string, { protocol: 'tcp' | 'udp'; family: 4 | 6; quic: boolean }> = {
  tcp4: { protocol: 'tcp', family: 4, quic: false },
  tcp6: { protocol: 'tcp', family: 6, quic: false },
  udp4: { protocol: 'udp', family: 4, quic: false },
  udp6: { protocol: 'udp', family: 6, quic: false },
  quic4: { protocol: 'udp', family: 4, quic: true },
  quic6: { protocol: 'udp', family: 6, quic: true },
};

/**
 * Field boundaries of one CSV row, mapped onto the header: nettop does not quote, so a label containing
 * commas shows up as extra fields and is re-joined. Positions are kept in a reused array (no per-field
 * strings: a sample can hold thousands of rows with twenty-odd columns each).
 */
class RowFields {
  private readonly commas: number[] = [];
  private line = '';
  private extra = 0;
  private labelIndex = 0;
  /** Raw fields of the loaded row (a label holding commas counts each part). */
  count = 0;

  /** False when the row has fewer fields than the header allows (cut off mid-row). */
  load(line: string, header: Header): boolean {
    const commas = this.commas;
    commas.length = 0;
    for (let i = line.indexOf(','); i >= 0; i = line.indexOf(',', i + 1)) commas.push(i);
    const count = commas.length + 1;
    // Only the trailing empty field may be missing; anything shorter was cut off.
    if (count < header.width - 1) return false;
    this.count = count;
    this.line = line;
    this.extra = Math.max(0, count - header.width);
    this.labelIndex = header.label;
    return true;
  }

  private start(raw: number): number {
    return raw === 0 ? 0 : this.commas[raw - 1]! + 1;
  }
  private end(raw: number): number {
    return raw < this.commas.length ? this.commas[raw]! : this.line.length;
  }
  /** Raw field index where header field `index` starts / ends (the label may span several raw fields). */
  private first(index: number): number {
    return index <= this.labelIndex ? index : index + this.extra;
  }
  private last(index: number): number {
    return index < this.labelIndex ? index : index + this.extra;
  }

  text(index: number): string {
    if (index < 0) return '';
    return this.line.slice(this.start(this.first(index)), this.end(this.last(index)));
  }
  counter(index: number): number | undefined {
    return counterAt(this.line, this.start(this.first(index)), this.end(this.last(index)));
  }
}

/** The longest process name nettop may print before `.PID` (p_name, 2 × MAXCOMLEN). */
const MAX_PROCESS_NAME = 32;

/**
 * A row too short for the header, joined with the lines after it, if that makes a process row: a process
 * names itself by its file name, which may hold newlines, and nettop does not quote. Only a process row is
 * joined (its label, NAME.PID with NAME of at most 32 characters, holds the newlines), so a row cut short at
 * the end of the output or before a complete row is still skipped alone, never merged into what follows.
 * `fields` is left loaded with the joined row when one is returned.
 */
function joinSplitName(text: string, from: number, first: string, header: Header, fields: RowFields): { line: string; next: number } | undefined {
  let line = first;
  let pos = from;
  for (let k = 0; k < MAX_PROCESS_NAME && pos < text.length; k++) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    let part = text.slice(pos, end);
    if (part.endsWith('\r')) part = part.slice(0, -1);
    line += `\n${part}`;
    pos = end + 1;
    if (!fields.load(line, header)) continue;
    const label = fields.text(header.label);
    const m = PROCESS_LABEL.exec(label);
    const ok = m && m[1]!.length <= MAX_PROCESS_NAME && !label.includes('<->') && fields.text(header.iface).trim() === '' && fields.counter(header.bytesIn) !== undefined && fields.counter(header.bytesOut) !== undefined;
    return ok ? { line, next: pos } : undefined;
  }
  return undefined;
}

export function parseNettop(text: string): NettopParseResult {
  const rows: NettopFlow[] = [];
  const processes: NettopProcessRow[] = [];
  let skipped = 0;
  let header: Header | undefined;
  let sample = -1;
  let owner: { pid: number; name: string } | undefined;
  let lineNo = 0;
  let firstContentLine = 0;
  const fields = new RowFields();

  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') {
      if (end === text.length) break;
      continue;
    }
    if (!firstContentLine) firstContentLine = lineNo;

    if (line.includes('bytes_in') && line.includes('bytes_out')) {
      const h = parseHeader(line.split(',').map((f) => f.trim()));
      if (h) {
        header = h;
        sample++;
        owner = undefined;
        continue;
      }
    }
    if (!header) {
      skipped++;
      continue;
    }
    if (!fields.load(line, header)) {
      const joined = joinSplitName(text, start, line, header, fields);
      if (!joined) {
        skipped++;
        continue;
      }
      line = joined.line;
      start = joined.next;
    }
    // The last line without its newline may be cut anywhere, inside its last column too: it is whole only if it
    // reached the trailing comma every row ends with. A cut just after an earlier comma ends in one too, a field short
    // (the width - 1 fields load() lets through): with -J ending in bytes_out, `…,3311,` would read as 0 bytes out.
    if (start > text.length && header.trailingComma && (!line.endsWith(',') || fields.count < header.width)) {
      skipped++;
      continue;
    }
    const label = fields.text(header.label);
    const bytesIn = fields.counter(header.bytesIn);
    const bytesOut = fields.counter(header.bytesOut);
    if (bytesIn === undefined || bytesOut === undefined) {
      skipped++;
      continue;
    }

    let arrow = label.indexOf('<->');
    const iface = fields.text(header.iface).trim();
    // What the process cannot choose tells its own row from a flow's: a process row has no interface and, where
    // nettop prints the arch column, an empty one (flows print `so`). A flow without an interface (a UDP socket
    // that has sent nothing) may have a label of NAME.PID's shape, with its remote port as the "pid".
    const processShaped = iface === '' && (header.arch < 0 || fields.text(header.arch).trim() === '');
    if (arrow >= 0 && processShaped) {
      // A process row is `NAME.PID`, NAME the executable's file name: at most 32 characters (p_name; p_comm is
      // 16, which one nettop prints is not verified). A name may be shaped like a flow (`tcp6 *.*<->::1` is a
      // valid file name).
      const m = PROCESS_LABEL.exec(label);
      if (m && m[1]!.length <= MAX_PROCESS_NAME) arrow = -1;
      else if (header.arch >= 0) {
        // an empty arch is no flow's: not a flow of the previous process, whatever the label parses as
        skipped++;
        owner = undefined;
        continue;
      }
    }
    if (arrow < 0) {
      const m = PROCESS_LABEL.exec(label);
      if (!m) {
        skipped++;
        owner = undefined; // a garbled process row must not hand its flows to the previous process
        continue;
      }
      owner = { pid: Number(m[2]), name: m[1]! };
      processes.push({ sample, pid: owner.pid, processName: owner.name, bytesIn, bytesOut });
      continue;
    }

    const space = label.indexOf(' ');
    const proto = space > 0 && space < arrow ? PROTOCOLS[label.slice(0, space)] : undefined;
    // A process-shaped row that is no flow we can read may be a process row of its own (a name too long to pass
    // for one): its flows are not the previous process's. A flow we cannot read (icmp) prints its arch or interface.
    if (!proto || !owner) {
      skipped++;
      if (processShaped) owner = undefined;
      continue;
    }
    const local = parseNettopEndpoint(label.slice(space + 1, arrow).trim(), proto.family);
    const remote = parseNettopEndpoint(label.slice(arrow + 3).trim(), proto.family);
    if (!local || !remote) {
      skipped++;
      if (processShaped) owner = undefined;
      continue;
    }
    rows.push({
      sample,
      pid: owner.pid,
      processName: owner.name,
      protocol: proto.protocol,
      quic: proto.quic,
      family: remote.wildcard ? local.wildcard ? proto.family : local.family : remote.family,
      local,
      remote,
      interface: iface,
      state: fields.text(header.state).trim(),
      bytesIn,
      bytesOut,
    });
  }

  if (sample < 0) {
    if (firstContentLine === 0) throw new ParseError('nettop printed nothing (no header line)', undefined, 'nettop may have failed silently; run it by hand with the same flags');
    throw new ParseError('no nettop header line seen (expected a CSV header with bytes_in and bytes_out)', firstContentLine, 'nettop printed usage or an unexpected format; check the -J/-L flags for this macOS version');
  }
  return { rows, processes, samples: sample + 1, skipped };
}
