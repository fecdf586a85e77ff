import { nestsDeeperThan } from './json-depth.js';
import type { OutflowQuery, ResultLogLine, ResultRow, RowAction } from '../../src/schemas/result-log.js';
import { detached } from '../../src/strings.js';
import { hostIdTooLong, isPlainObject, matchQuery, MAX_ENVELOPE_TEXT, parsedLine, rowsFrom, type ParseLineResult, type ParseOptions } from './parse-result-log.js';

/**
 * The same result as `parseResultLine` for a string line in osquery's own layout, without JSON.parse of the
 * whole line (other inputs, wrapper objects included, return undefined).
 *
 * JSON.parse of a result line builds the whole envelope — the top-level object, calendarTime, the
 * decorations object, every key and string — to read a dozen scalars. Here one sticky regex (OSQUERY)
 * checks and reads the envelope as osquery writes it, in native code: name, hostIdentifier, calendarTime,
 * unixTime, epoch, counter (numbers, or strings as osquery < 3 wrote them; epoch and counter optional),
 * numerics (optional), decorations as an object of strings (optional) and/or decorations at the top level
 * (`--decorations_top_level`), then the one member holding rows (`columns`, `snapshot` or `diffResults`).
 * The rows value runs to the line's known end (`,"action":"…"}` or the closing brace). Rows of Outflow's
 * own queries in osquery's plain layout (ROW_LAYOUTS) are read by one more sticky regex and built as object
 * literals; any other rows value is handed to JSON.parse alone, which builds the row objects the caller
 * reads. Those are most of a line's cost (see
 * test/bench/fleet-parse.bench.ts), so what this saves is the envelope's share.
 *
 * Any other line returns undefined — members in another order, whitespace between envelope tokens, an
 * escape or null in the envelope, a reserved member among top-level decorations, a repeated host_uuid or
 * hostname, a rows member followed by other members — and so does every line the parser rejects: the caller
 * then parses it with `parseResultLine`, which decides (and words the reject) as before. This never returns
 * `{ ok: false }`. (A walker taking members in any order was measured: in JS it cost 1.6× JSON.parse of the
 * line, so those lines are better left to the parser.)
 *
 * Contract: when this returns a result, `parseResultLine(line, opts)` returns a strictly equal one (same
 * values, same property order; `read-result-line.test.ts` checks it over the fixtures, simulated fleets,
 * every shape and a seeded fuzz of mutated lines). Why it holds:
 * - The line is JSON exactly when JSON.parse takes it: OSQUERY admits only JSON text (strings without
 *   control character or backslash, integers without leading zero), the rows value is JSON.parse'd on its
 *   own, and what follows it is a literal suffix. Splitting there is sound: an object or array is never a
 *   prefix of a longer JSON value, so a rows text JSON.parse takes is that value's whole text.
 * - Same values: the rows value is JSON.parse of its own text — the very objects JSON.parse builds for it
 *   inside the line (keys, order, numbers, escapes, `__proto__` as an own property). A layout row matches
 *   its pattern from its first to its last character: exactly the layout's keys in that order, each value a
 *   string with no escape, control character or surrogate, so its text is its value; the literal has the
 *   same keys in the same order. The envelope members
 *   are each present once (OSQUERY spells each name once; host_uuid and hostname are looked up in
 *   decorations and among top-level decorations and must be unique there; a top-level decoration named like
 *   a member the parser reads returns undefined), so JSON.parse's last-wins never applies. Their strings hold
 *   no escape, so the text is the value; integers of ≤ 15 digits are exact as Number(text), which is also
 *   the parser's rule for integer strings. Each field then goes through the parser's rule (toBool, `??`
 *   between decorations and the top level, an empty host_uuid falling to hostIdentifier, the shape from the
 *   rows member, isPlainObject on rows), and the result is built in the parser's property order.
 */
export function readResultLine(input: unknown, opts: ParseOptions = {}): ParseLineResult | undefined {
  if (typeof input !== 'string') return undefined;
  const s = input;
  OSQUERY.lastIndex = 0;
  const m = OSQUERY.exec(s);
  if (m === null) return undefined;
  const v = OSQUERY.lastIndex;

  // where the rows value ends: before the action member of event lines, else at the closing brace
  let end = s.length - 1;
  const kind = m[14]!;
  let action: RowAction | undefined;
  if (kind === 'columns') {
    if (s.endsWith(ACTION_ADDED)) action = 'added';
    else if (s.endsWith(ACTION_REMOVED)) action = 'removed';
    else if (s.endsWith(ACTION_SNAPSHOT)) action = 'snapshot';
    else return undefined;
    end = s.length - (action.length + 13);
  } else if (kind === 'snapshot' && s.endsWith(ACTION_SNAPSHOT)) {
    // the parser does not read a snapshot line's action, but only this one is taken here
    end = s.length - ACTION_SNAPSHOT.length;
  }
  if (end <= v || s.charCodeAt(s.length - 1) !== RBRACE) return undefined;

  const name = m[1]!;
  if (name === '') return undefined;
  // decorations?.host_uuid ?? obj.host_uuid (values here are strings, never null)
  let decoUuid = m[10];
  let decoHostname = m[11];
  const deco = m[12];
  if (deco !== undefined) {
    decoUuid = member(deco, HOST_UUID);
    decoHostname = member(deco, HOSTNAME);
  }
  const top = m[13]!;
  let uuid = decoUuid;
  let hostname = decoHostname;
  if (top !== '') {
    if (RESERVED.test(top)) return undefined;
    uuid ??= member(top, HOST_UUID);
    hostname ??= member(top, HOSTNAME);
  }
  hostname ??= '';
  if (uuid === DUPLICATE || hostname === DUPLICATE) return undefined;
  const hostId = uuid !== undefined && uuid !== '' ? uuid : m[2]!;
  if (hostId === '') return undefined;
  // the parser rejects these (and words why)
  if (name.length > MAX_ENVELOPE_TEXT || hostId.length > MAX_ENVELOPE_TEXT || hostname.length > MAX_ENVELOPE_TEXT || hostIdTooLong(hostId)) return undefined;

  const unixTime = int(m[3], m[4], NaN);
  const epoch = int(m[5], m[6], 0);
  // a missing counter (very old osquery) is unknown, -1, as in the parser
  const counter = int(m[7], m[8], -1);
  if (!(unixTime >= 0) || (opts.maxUnixTime !== undefined && unixTime > opts.maxUnixTime) || counter < -1) return undefined;

  const own = cachedName(name);
  const rows: ResultRow[] = [];
  let shape: ResultLogLine['shape'];
  // Rows laid out exactly as Outflow's own pack logs them are built without JSON.parse (see ROW_LAYOUTS).
  const layout = cachedQuery === null ? undefined : ROW_LAYOUTS[cachedQuery];
  if (layout !== undefined && kind === 'columns') {
    const row = readRow(layout, s, v, end);
    if (row !== undefined) {
      rows.push({ action: action!, columns: row });
      return parsedLine(own, cachedQuery, hostId, hostname, unixTime, epoch, counter, m[9] === 'true', action === 'snapshot' ? 'snapshot' : 'event', rows);
    }
  }
  if (layout !== undefined && kind === 'snapshot' && readRows(layout, s, v, end, rows)) {
    return parsedLine(own, cachedQuery, hostId, hostname, unixTime, epoch, counter, m[9] === 'true', 'snapshot', rows);
  }
  rows.length = 0;

  // nested past MAX_JSON_DEPTH: parseResultLine refuses it, before any JSON.parse (json-depth.ts)
  const rowsText = s.slice(v, end);
  if (nestsDeeperThan(rowsText)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(rowsText) as unknown;
  } catch {
    // not one JSON value: invalid, or other members follow it
    return undefined;
  }
  if (kind === 'snapshot') {
    shape = 'snapshot';
    if (!Array.isArray(value) || rowsFrom(value, 'snapshot', rows, 'snapshot') !== null) return undefined;
  } else if (kind === 'diffResults') {
    shape = 'batch';
    // osquery logs removed rows before added ones; the parser keeps that order
    if (!isPlainObject(value) || rowsFrom(value.removed, 'removed', rows, 'diffResults.removed') !== null || rowsFrom(value.added, 'added', rows, 'diffResults.added') !== null) return undefined;
  } else {
    if (!isPlainObject(value)) return undefined;
    rows.push({ action: action!, columns: value });
    shape = action === 'snapshot' ? 'snapshot' : 'event';
  }

  return parsedLine(own, cachedQuery, hostId, hostname, unixTime, epoch, counter, m[9] === 'true', shape, rows);
}

/**
 * Rows of Outflow's own pack queries as osquery logs them: every column a string (numerics false), keys
 * in osquery's sorted order, the exact column set of the query (OUTFLOW_ROW_COLUMNS; the test checks these
 * lists against packs/source and the outflow_status table). Such a row is read by one sticky regex
 * and built as an object literal, in the same key order JSON.parse would give, with the same strings (no
 * escape, no control character, no lone surrogate in any value), at about half the cost of JSON.parse of
 * the row. Any other row (a new column, numerics true, an escape) goes to JSON.parse as before.
 */
interface RowLayout {
  /** Sticky: `{"k1":"v1",…}` with the layout's keys in order, one capture per value. */
  pattern: RegExp;
  build: (m: RegExpExecArray) => Record<string, unknown>;
}

const VALUE = String.raw`"([^"\\\x00-\x1f\ud800-\udfff]*)"`;

function rowPattern(keys: readonly string[]): RegExp {
  return new RegExp(`\\{${keys.map((k) => `"${k}":${VALUE}`).join(',')}\\}`, 'y');
}

/** The columns each of those queries logs, in osquery's (sorted) order. */
export const OUTFLOW_ROW_COLUMNS = {
  outflow_destinations: ['bytes_in', 'bytes_out', 'identity', 'path', 'protocol', 'remote_address', 'remote_port', 'server_name', 'service'],
  outflow_apps: ['cdhash', 'identity', 'notarized', 'path', 'signature_class', 'signing_id', 'team_id'],
  outflow_status: ['component', 'detail', 'dropped', 'events', 'last_event', 'platform', 'state', 'version'],
} as const satisfies Partial<Record<OutflowQuery, readonly string[]>>;

// The builders are object literals (one allocation, a fixed shape), spelled out in OUTFLOW_ROW_COLUMNS order.
const ROW_LAYOUTS: Partial<Record<OutflowQuery, RowLayout>> = {
  outflow_destinations: {
    pattern: rowPattern(OUTFLOW_ROW_COLUMNS.outflow_destinations),
    build: (m) => ({ bytes_in: m[1], bytes_out: m[2], identity: m[3], path: m[4], protocol: m[5], remote_address: m[6], remote_port: m[7], server_name: m[8], service: m[9] }),
  },
  outflow_apps: {
    pattern: rowPattern(OUTFLOW_ROW_COLUMNS.outflow_apps),
    build: (m) => ({ cdhash: m[1], identity: m[2], notarized: m[3], path: m[4], signature_class: m[5], signing_id: m[6], team_id: m[7] }),
  },
  outflow_status: {
    pattern: rowPattern(OUTFLOW_ROW_COLUMNS.outflow_status),
    build: (m) => ({ component: m[1], detail: m[2], dropped: m[3], events: m[4], last_event: m[5], platform: m[6], state: m[7], version: m[8] }),
  },
};

/** The columns of a layout row spanning exactly [at, end), or undefined. */
function readRow(layout: RowLayout, s: string, at: number, end: number): Record<string, unknown> | undefined {
  layout.pattern.lastIndex = at;
  const m = layout.pattern.exec(s);
  return m !== null && layout.pattern.lastIndex === end ? layout.build(m) : undefined;
}

/** A snapshot array of layout rows spanning exactly [at, end), pushed as snapshot rows; false otherwise. */
function readRows(layout: RowLayout, s: string, at: number, end: number, into: ResultRow[]): boolean {
  if (s.charCodeAt(at) !== LBRACKET || s.charCodeAt(end - 1) !== RBRACKET) return false;
  let pos = at + 1;
  if (pos === end - 1) return true;
  for (;;) {
    layout.pattern.lastIndex = pos;
    const m = layout.pattern.exec(s);
    if (m === null) return false;
    into.push({ action: 'snapshot', columns: layout.build(m) });
    pos = layout.pattern.lastIndex;
    if (pos === end - 1) return true;
    if (s.charCodeAt(pos) !== COMMA) return false;
    pos++;
  }
}

// A JSON string body with no control character and no backslash; a string member of such strings; an
// integer as osquery writes it: a number of ≤ 15 digits, or (osquery < 3) a string of ≤ 15 digits.
const BODY = String.raw`[^"\\\x00-\x1f]*`;
const PAIR = `"${BODY}":"${BODY}"`;
const INT = String.raw`(?:(0|[1-9]\d{0,14})|"(-?\d{1,15})")`;
/**
 * osquery's envelope up to the rows member's value (formats.md §6.1), anchored at 0 (sticky, lastIndex 0).
 * Groups: 1 name, 2 hostIdentifier, 3-4 unixTime, 5-6 epoch, 7-8 counter (number, string), 9 numerics,
 * 10-11 host_uuid and hostname of Fleet's decorations, 12 any other decorations object, 13 top-level
 * decorations (`"k":"v",` each), 14 the rows member.
 */
const OSQUERY = new RegExp(
  String.raw`\{"name":"(${BODY})","hostIdentifier":"(${BODY})","calendarTime":"${BODY}","unixTime":${INT},(?:"epoch":${INT},)?(?:"counter":${INT},)?` +
    String.raw`(?:"numerics":(true|false),)?(?:"decorations":(?:\{"host_uuid":"(${BODY})","hostname":"(${BODY})"\}|(\{(?:${PAIR}(?:,${PAIR})*)?\})),)?` +
    String.raw`((?:${PAIR},)*)"(columns|snapshot|diffResults)":`,
  'y',
);
/** A top-level decoration named like a member the parser reads would be read by JSON.parse instead (last wins). */
const RESERVED = /"(?:name|hostIdentifier|unixTime|epoch|counter|numerics|decorations|snapshot|diffResults|columns|action)":/;

const ACTION_ADDED = ',"action":"added"}';
const ACTION_REMOVED = ',"action":"removed"}';
const ACTION_SNAPSHOT = ',"action":"snapshot"}';
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const COMMA = 44;

const HOST_UUID = '"host_uuid":"';
const HOSTNAME = '"hostname":"';
/** member() of a key present twice (no value here can be it: they hold no control character). */
const DUPLICATE = '\u0000duplicate';

/**
 * The string value of `key` (`"name":"` spelled out) in `text`, a run of `"k":"v"` members of escape-free
 * strings: there a quote followed by the key's text and `":"` can only open that key. Undefined when
 * absent, DUPLICATE when present twice.
 */
function member(text: string, key: string): string | undefined {
  const at = text.indexOf(key);
  if (at === -1) return undefined;
  const start = at + key.length;
  const end = text.indexOf('"', start);
  if (text.indexOf(key, end) !== -1) return DUPLICATE;
  return text.slice(start, end);
}

/** An integer field from its number or string group; `absent` when the member is missing. */
function int(num: string | undefined, str: string | undefined, absent: number): number {
  // Number(text) is exact for ≤ 15 digits, and is the parser's rule for strings ('007' is 7, '-0' is -0)
  if (num !== undefined) return +num;
  if (str !== undefined) return +str;
  return absent;
}

/** Names seen recently with their query: the name string is shared, and matchQuery runs once per name. */
const NAME_CACHE_SIZE = 16;
const cachedNames: string[] = [];
const cachedQueries: (OutflowQuery | null)[] = [];
let nameCursor = 0;
let cachedQuery: OutflowQuery | null = null;

/** `name` as a string of its own, shared with earlier lines; its query in cachedQuery. */
function cachedName(name: string): string {
  for (let k = 0; k < cachedNames.length; k++) {
    if (cachedNames[k] === name) {
      cachedQuery = cachedQueries[k]!;
      return cachedNames[k]!;
    }
  }
  const own = detached(name);
  cachedQuery = matchQuery(own);
  cachedNames[nameCursor] = own;
  cachedQueries[nameCursor] = cachedQuery;
  nameCursor = (nameCursor + 1) % NAME_CACHE_SIZE;
  return own;
}
