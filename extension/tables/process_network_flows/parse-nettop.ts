import { normalizeAddress } from '../../../src/classify/network.js';
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
  bytesIn: number;
  bytesOut: number;
}

const PROCESS_LABEL = /^(.*)\.(\d+)$/;
const IPV4_ENDPOINT = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\*):(\d+|\*)$/;

function parseHeader(fields: string[]): Header | undefined {
  const index = (name: string) => fields.indexOf(name);
  const bytesIn = index('bytes_in');
  const bytesOut = index('bytes_out');
  const label = fields.indexOf('');
  if (bytesIn < 0 || bytesOut < 0 || label < 0 || label === fields.length - 1) return undefined;
  return { width: fields.length, label, iface: index('interface'), state: index('state'), bytesIn, bytesOut };
}

/** Counter text → bytes: empty is 0 (formats.md §2.3); anything non-integer is undefined (e.g. "1.2 MiB" without -x). */
function counter(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '') return 0;
  if (!/^\d+$/.test(t)) return undefined;
  return Number(t);
}

/**
 * `a.b.c.d:port`, `*:*`, `*:5353` for IPv4; `addr.port`, `*.*`, `fe80::1%en0.port` for IPv6 (port after
 * the last dot). The IPv4 form is tried first because tcp6 sockets can carry IPv4 peers.
 */
export function parseNettopEndpoint(text: string, protoFamily: 4 | 6): NettopEndpoint | undefined {
  let addr: string;
  let port: string;
  const v4 = IPV4_ENDPOINT.exec(text);
  if (v4) {
    addr = v4[1]!;
    port = v4[2]!;
  } else {
    const dot = text.lastIndexOf('.');
    if (dot <= 0) return undefined;
    addr = text.slice(0, dot);
    port = text.slice(dot + 1);
  }
  if (port !== '*' && !/^\d{1,5}$/.test(port)) return undefined;
  const portNum = port === '*' ? 0 : Number(port);
  if (portNum > 65535) return undefined;
  if (addr === '*') return { address: '*', port: portNum, wildcard: true, family: protoFamily };
  const norm = normalizeAddress(addr);
  // The dot-split form is IPv6 only; "10.0.0.1" without a port must not become 10.0.0 port 1.
  if (!norm.valid || (!v4 && !addr.includes(':'))) return undefined;
  return { address: norm.address, port: portNum, wildcard: false, family: norm.family };
}

const PROTOCOLS: Record<string, { protocol: 'tcp' | 'udp'; family: 4 | 6; quic: boolean }> = {
  tcp4: { protocol: 'tcp', family: 4, quic: false },
  tcp6: { protocol: 'tcp', family: 6, quic: false },
  udp4: { protocol: 'udp', family: 4, quic: false },
  udp6: { protocol: 'udp', family: 6, quic: false },
  quic4: { protocol: 'udp', family: 4, quic: true },
  quic6: { protocol: 'udp', family: 6, quic: true },
};

/** Split one CSV line; nettop does not quote, so a label with commas is re-joined against the header width. */
function splitRow(line: string, header: Header): string[] | undefined {
  const fields = line.split(',');
  if (fields.length > header.width) {
    const extra = fields.length - header.width;
    const label = fields.slice(header.label, header.label + extra + 1).join(',');
    fields.splice(header.label, extra + 1, label);
  }
  // Only the trailing empty field may be missing; anything shorter was cut off mid-row.
  if (fields.length < header.width - 1) return undefined;
  return fields;
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
    const fields = splitRow(line, header);
    if (!fields) {
      skipped++;
      continue;
    }
    const label = fields[header.label] ?? '';
    const bytesIn = counter(fields[header.bytesIn]);
    const bytesOut = counter(fields[header.bytesOut]);
    if (bytesIn === undefined || bytesOut === undefined) {
      skipped++;
      continue;
    }

    const arrow = label.indexOf('<->');
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
    if (!proto || !owner) {
      skipped++;
      continue;
    }
    const local = parseNettopEndpoint(label.slice(space + 1, arrow).trim(), proto.family);
    const remote = parseNettopEndpoint(label.slice(arrow + 3).trim(), proto.family);
    if (!local || !remote) {
      skipped++;
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
      interface: header.iface >= 0 ? (fields[header.iface] ?? '').trim() : '',
      state: header.state >= 0 ? (fields[header.state] ?? '').trim() : '',
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
