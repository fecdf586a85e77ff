import { normalizeAddress } from '../../../src/classify/network.js';
import { ParseError } from '../../../src/errors.js';

/**
 * Pure parser for `ss -tuinpeH` (formats.md §3.3, with -e: `ino:`, `sk:` after the users list). One socket line (Netid optional, State, Recv-Q, Send-Q,
 * Local, Peer, optional users:(…)), then for TCP an info line starting with whitespace whose byte counters
 * are pulled out by regex (they are omitted when zero). UDP has no counters: bytes are null.
 */

export interface SsEndpoint {
  /** Normalised: brackets and %zone stripped, IPv4-mapped IPv6 as IPv4; '*' for a wildcard. */
  address: string;
  port: number;
  wildcard: boolean;
  family: 4 | 6;
}

export interface SsOwner {
  name: string;
  pid: number;
  fd: number;
}

export interface SsSocket {
  protocol: 'tcp' | 'udp';
  state: string;
  local: SsEndpoint;
  remote: SsEndpoint;
  family: 4 | 6;
  /** Empty when no process holds the socket (TIME-WAIT, not yet accepted, other users' sockets without root). */
  owners: SsOwner[];
  /** bytes_received; null for UDP and for a TCP socket whose info line is missing. */
  bytesIn: number | null;
  /** bytes_acked (bytes_sent counts retransmissions); null as above. */
  bytesOut: number | null;
  /** bytes_sent when printed (diagnostics). */
  bytesSent: number | null;
  /** `ino:…/sk:…` with -e: tells a new socket on the same tuple from the old one; null without -e. */
  socketId: string | null;
}

export interface SsParseResult {
  rows: SsSocket[];
  skipped: number;
}

const SOCKET_LINE = /^(?:(tcp|udp)\s+)?([A-Z][A-Z0-9-]*)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)(?:\s+(.*?))?\s*$/;
/**
 * ss prints the task name as /proc/<pid>/stat holds it, unescaped and read up to the first ')': a name can hold
 * quotes, commas and newlines (any process sets its own via /proc/self/comm or prctl), never ')'.
 */
const OWNER = /\("([\s\S]*?)",pid=(\d+),fd=(\d+)\)/g;
/**
 * The end of a users:(…) list: a name cannot hold ')', so only ss itself prints this; with -e, ss's own
 * `[uid:N ]ino:N sk:X …` follow it (the rest, a cgroup path, is not read).
 */
const USERS_END = /\)\)(?:\s+(?:uid:\d+\s+)?ino:\d+\s.*)?\s*$/;
/** -e's socket identity, right after the users list (or the peer when no process holds the socket). */
const SOCKET_ID = /^\s*(?:uid:\d+\s+)?ino:(\d+)\s+sk:([0-9a-f]+)\b/;
/** A task name is at most 15 bytes (TASK_COMM_LEN 16 with its NUL). */
const MAX_TASK_NAME = 15;

/**
 * Whether `line` can continue a users list cut by a newline in a task name: the rest of that name (at most 15
 * characters, with no `",pid=` before it) then `",pid=`, or a whole line of name. A socket line never fits, so
 * an unclosed list is never joined to the next socket's line.
 */
function continuesUsersList(line: string): boolean {
  const end = line.indexOf('",pid=');
  return end >= 0 ? end <= MAX_TASK_NAME : line.length <= MAX_TASK_NAME;
}

const BYTES_ACKED = /\bbytes_acked:(\d+)/;
const BYTES_RECEIVED = /\bbytes_received:(\d+)/;
const BYTES_SENT = /\bbytes_sent:(\d+)/;

/** `a.b.c.d:p`, `[v6]:p`, `[fe80::1]%eth0:p`, `127.0.0.53%lo:53`, `0.0.0.0:*`, `[::]:*`, `*:*` — split at the last ':'. */
export function parseSsEndpoint(text: string): SsEndpoint | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const addr = text.slice(0, colon);
  const port = text.slice(colon + 1);
  if (port !== '*' && !/^\d{1,5}$/.test(port)) return undefined;
  const portNum = port === '*' ? 0 : Number(port);
  if (portNum > 65535) return undefined;
  if (addr === '*') return { address: '*', port: portNum, wildcard: true, family: 4 };
  const n = normalizeAddress(addr);
  if (!n.valid) return undefined;
  const unspecified = n.address === '0.0.0.0' || n.address === '::';
  return { address: n.address, port: portNum, wildcard: unspecified && portNum === 0, family: n.family };
}

function counter(info: string, re: RegExp): number | null {
  const m = re.exec(info);
  return m ? Number(m[1]) : null;
}

export function parseSs(text: string, opts: { defaultProtocol?: 'tcp' | 'udp' } = {}): SsParseResult {
  const rows: SsSocket[] = [];
  let skipped = 0;
  let nonEmpty = 0;
  let firstLine = 0;
  let last: SsSocket | undefined;
  let lastHasInfo = false;
  const lines = text.split('\n');

  const finish = () => {
    // A TCP socket always gets an info line with -i; without one its counters are unknown, not zero.
    if (last && last.protocol === 'tcp' && !lastHasInfo) {
      last.bytesIn = null;
      last.bytesOut = null;
    }
  };

  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    nonEmpty++;
    if (!firstLine) firstLine = i + 1;

    if (line[0] === '\t' || line[0] === ' ') {
      if (!last || last.protocol !== 'tcp' || lastHasInfo) {
        skipped++;
        continue;
      }
      lastHasInfo = true;
      last.bytesIn = counter(line, BYTES_RECEIVED) ?? 0;
      last.bytesOut = counter(line, BYTES_ACKED) ?? 0;
      last.bytesSent = counter(line, BYTES_SENT);
      continue;
    }

    finish();
    last = undefined;
    lastHasInfo = false;
    const m = SOCKET_LINE.exec(line);
    if (!m) {
      skipped++;
      continue;
    }
    const protocol = (m[1] as 'tcp' | 'udp' | undefined) ?? opts.defaultProtocol ?? 'tcp';
    const local = parseSsEndpoint(m[5]!);
    const remote = parseSsEndpoint(m[6]!);
    if (!local || !remote) {
      skipped++;
      continue;
    }
    const owners: SsOwner[] = [];
    let rest = m[7] ?? '';
    if (rest.startsWith('users:(') && !USERS_END.test(rest)) {
      // A newline in a task name split the list: the lines up to its real end belong to it. No line budget: a
      // process holding its socket through many fds makes the list as long as it likes, and a socket line never
      // continues a list (continuesUsersList), so the join cannot swallow another socket. Only the new line is
      // tested for the end (testing the joined text would cost O(lines²)).
      const parts = [rest];
      let j = i + 1;
      let closed = false;
      while (j < lines.length) {
        const next = lines[j]!.replace(/\r$/, '');
        if (!continuesUsersList(next)) break;
        parts.push(next);
        if (USERS_END.test(next)) {
          closed = true;
          break;
        }
        j++;
      }
      if (closed) {
        rest = parts.join('\n');
        i = j;
      }
    }
    let tail = rest;
    if (rest.startsWith('users:(')) {
      // the list ends at the first '))' (no name holds ')'); what follows is -e's, never an owner
      const end = rest.indexOf('))');
      const users = end < 0 ? rest : rest.slice(0, end + 2);
      tail = end < 0 ? '' : rest.slice(end + 2);
      for (const o of users.matchAll(OWNER)) owners.push({ name: o[1]!, pid: Number(o[2]), fd: Number(o[3]) });
    }
    const id = SOCKET_ID.exec(tail);
    const socket: SsSocket = {
      protocol,
      state: m[2]!,
      local,
      remote,
      family: remote.wildcard ? local.family : remote.family,
      owners,
      bytesIn: protocol === 'udp' ? null : 0,
      bytesOut: protocol === 'udp' ? null : 0,
      bytesSent: null,
      socketId: id ? `${id[1]}/${id[2]}` : null,
    };
    rows.push(socket);
    last = socket;
  }
  finish();

  if (nonEmpty > 0 && rows.length === 0 && skipped === nonEmpty) {
    throw new ParseError('no ss socket line recognised', firstLine, 'expected `ss -tuinpeH` output (iproute2); check the ss version');
  }
  return { rows, skipped };
}
