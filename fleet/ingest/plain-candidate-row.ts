import {
  ANALYTIC_IDS,
  MAX_CHAIN_LINKS,
  MAX_KEY_TEXT,
  MAX_PATH_TEXT,
  MAX_SHORT_TEXT,
  PRECURSOR_KINDS,
  PROTOCOLS,
  type EgressCandidate,
  type ProcessChainLink,
} from '../../src/schemas/egress-candidate.js';
import { cutHostName, cutText } from '../../src/strings.js';

/**
 * EgressCandidateSchema's result for the rows a Mac logs, without zod; undefined for anything else, which the
 * caller then hands to the schema (for its verdict and its error message). The schema stays the contract: this
 * only reads the plain forms (text as strings, numbers as numbers or plain decimal text, process_chain as JSON
 * text) and must give exactly what the schema gives for them, key order included, since the candidate's body is
 * stored as JSON and digested (plain-candidate-row.test.ts checks both on every column, mutated).
 *
 * Why not zod here: the schema's 60 columns each wrap a default, a coercion or a cut, and zod runs a wrapper per
 * column: about 20 µs a row, 4 % of the whole ingest though candidates are 1 % of its lines. This reads a row in
 * about 1 µs.
 */
export function plainCandidateRow(c: Record<string, unknown>): EgressCandidate | undefined {
  const out: Record<string, unknown> = {};
  for (const [key, read] of READERS) {
    const v = read(c[key]);
    if (v === IRREGULAR) return undefined;
    out[key] = v;
  }
  return out as EgressCandidate;
}

const IRREGULAR = Symbol('irregular');
type Reader = (v: unknown) => unknown;

// integers as osquery writes them: numbers with --logger_numerics, decimal text otherwise. 15 digits stay
// within a safe integer, as the schema's int() requires; longer text goes to the schema.
const INTEGER_TEXT = /^-?\d{1,15}$/;
const DECIMAL_TEXT = /^-?\d{1,15}(?:\.\d{1,17})?$/;

function int(fallback?: number): Reader {
  return (v) => {
    if (v === undefined) return fallback === undefined ? IRREGULAR : fallback;
    if (typeof v === 'number') return Number.isSafeInteger(v) ? v : IRREGULAR;
    return typeof v === 'string' && INTEGER_TEXT.test(v) ? Number(v) : IRREGULAR;
  };
}

const num: Reader = (v) => {
  if (typeof v === 'number') return Number.isFinite(v) ? v : IRREGULAR;
  return typeof v === 'string' && DECIMAL_TEXT.test(v) ? Number(v) : IRREGULAR;
};

function text(max: number, fallback: string): Reader {
  return (v) => (v === undefined ? fallback : typeof v === 'string' ? cutText(v, max) : IRREGULAR);
}

/** Text that must not be empty (flow_id, remote_address): cut, and a cut text is never empty. */
function requiredText(max: number): Reader {
  return (v) => (typeof v === 'string' && v !== '' ? cutText(v, max) : IRREGULAR);
}

function oneOf(values: readonly string[], fallback?: string): Reader {
  return (v) => {
    if (v === undefined) return fallback === undefined ? IRREGULAR : fallback;
    return typeof v === 'string' && values.includes(v) ? v : IRREGULAR;
  };
}

const linkPid = int();
const linkPath = text(MAX_PATH_TEXT, '');
const linkIdentity = text(MAX_KEY_TEXT, '');
const linkClass = text(MAX_SHORT_TEXT, 'unknown');

/** process_chain as JSON text of {pid, path, identity, signature_class} objects; any other shape to the schema. */
const processChain: Reader = (v) => {
  if (v === undefined || v === '') return [];
  if (typeof v !== 'string') return IRREGULAR;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    return IRREGULAR;
  }
  if (!Array.isArray(parsed)) return IRREGULAR;
  const links: ProcessChainLink[] = [];
  for (const l of parsed as unknown[]) {
    if (l === null || typeof l !== 'object' || Array.isArray(l)) return IRREGULAR;
    const o = l as Record<string, unknown>;
    if (typeof o.path !== 'string') return IRREGULAR;
    const pid = linkPid(o.pid);
    const path = linkPath(o.path);
    const identity = linkIdentity(o.identity);
    const signatureClass = linkClass(o.signature_class);
    if (pid === IRREGULAR || identity === IRREGULAR || signatureClass === IRREGULAR) return IRREGULAR;
    links.push({ pid: pid as number, path: path as string, identity: identity as string, signature_class: signatureClass as string });
  }
  return links.slice(0, MAX_CHAIN_LINKS);
};

const str = text(MAX_SHORT_TEXT, '');
const path = text(MAX_PATH_TEXT, '');
const keyText = text(MAX_KEY_TEXT, '');

/** One reader per schema column, in the schema's order (the output's key order). */
const READERS: readonly (readonly [keyof EgressCandidate, Reader])[] = [
  ['analytic', oneOf(ANALYTIC_IDS)],
  ['flow_id', requiredText(MAX_SHORT_TEXT)],
  ['pid', int()],
  ['ppid', int(0)],
  ['uid', int(-1)],
  ['process_start', int()],
  ['process_name', str],
  ['path', path],
  ['protocol', oneOf(PROTOCOLS)],
  ['family', int(4)],
  ['local_address', str],
  ['local_port', int(0)],
  ['remote_address', requiredText(MAX_KEY_TEXT)],
  ['remote_port', int()],
  ['remote_scope', text(MAX_SHORT_TEXT, 'public')],
  ['service', text(MAX_SHORT_TEXT, 'other')],
  ['service_evidence', text(MAX_SHORT_TEXT, 'port')],
  ['server_name', (v) => (v === undefined ? '' : typeof v === 'string' ? cutHostName(v, MAX_KEY_TEXT) : IRREGULAR)],
  ['state', str],
  ['interface', str],
  ['bytes_in', int()],
  ['bytes_out', int()],
  ['pcr', num],
  ['first_seen', int()],
  ['last_seen', int()],
  ['duration', int()],
  ['closed', int(0)],
  ['signature_class', text(MAX_SHORT_TEXT, 'unknown')],
  ['team_id', str],
  ['signing_id', str],
  ['cdhash', str],
  ['identity', keyText],
  ['group_root_pid', int(0)],
  ['group_root_path', path],
  ['group_root_identity', keyText],
  ['group_root_kind', str],
  ['process_chain', processChain],
  ['browser', int(0)],
  ['sanctioned', int(0)],
  ['precursor_kind', oneOf(PRECURSOR_KINDS, 'none')],
  ['precursor_time', int(0)],
  ['precursor_path', path],
  ['precursor_category', str],
  ['precursor_tier', int(0)],
  ['precursor_pid', int(0)],
  ['precursor_gap', int(0)],
  ['archive_time', int(0)],
  ['archive_path', path],
  ['archive_tool', str],
  ['archive_pid', int(0)],
  ['reasons', text(MAX_PATH_TEXT, '')],
];

/** The columns this reads, in order: the test holds them to the schema's. */
export const PLAIN_CANDIDATE_COLUMNS: readonly string[] = READERS.map(([k]) => k);
