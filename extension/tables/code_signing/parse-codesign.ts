import { ParseError } from '../../../src/errors.js';
import type { CodesignInfo, VerifyResult } from '../../../src/classify/signing-class.js';

export interface ParsedCodesign {
  info: CodesignInfo;
  /** Lines that were neither `Key=Value` nor a known message. */
  skipped: number;
}

const NOT_SIGNED = /code object is not signed at all/;
/** Messages codesign prints after `PATH: ` instead of a signature: whole messages, then message prefixes. */
const ERROR_WHOLE = /(?:no such file or directory|permission denied|the sealed resource directory is invalid)$/y;
const ERROR_PREFIX = /(?:bundle format unrecognized|bundle format is ambiguous|unsupported format)/y;
const NOT_VALID_CODE = 'not a valid code object';

/**
 * The message of a per-path error line (`PATH: No such file or directory`), or undefined: the text after the
 * first `: ` at which a known message starts (a path may itself hold `: `). Linear in the line, where one
 * regex with `.*` alternatives after `: ` backtracked quadratically (64 KB took seconds).
 */
export function errorMessage(line: string): string | undefined {
  const lower = line.toLowerCase();
  const notValidAt = lower.lastIndexOf(NOT_VALID_CODE);
  for (let i = lower.indexOf(': '); i !== -1; i = lower.indexOf(': ', i + 1)) {
    const at = i + 2;
    ERROR_WHOLE.lastIndex = at;
    ERROR_PREFIX.lastIndex = at;
    if (ERROR_WHOLE.test(lower) || ERROR_PREFIX.test(lower) || notValidAt >= at) return line.slice(at);
  }
  return undefined;
}

/**
 * `codesign -dvvv --verbose=4 PATH` (stderr) → fields located by key (formats.md §4.1). Unknown keys are
 * ignored; repeated `Authority=` lines are kept in order (leaf first). Throws ParseError only when the
 * text has nothing codesign would print.
 */
export function parseCodesignDisplay(text: string): ParsedCodesign {
  const info: CodesignInfo = {
    notSigned: false,
    error: null,
    identifier: null,
    format: null,
    cdFlags: [],
    cdFlagsValue: null,
    platformIdentifier: null,
    cdhash: null,
    signatureAdhoc: false,
    authorities: [],
    teamId: null,
    notarizationStapled: false,
  };
  let skipped = 0;
  let recognized = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (NOT_SIGNED.test(line)) {
      info.notSigned = true;
      recognized++;
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9 .]*?)=(.*)$/.exec(line);
    if (!kv) {
      const err = errorMessage(line);
      if (err !== undefined) {
        info.error = err;
        recognized++;
      } else skipped++;
      continue;
    }
    const key = kv[1]!;
    const value = kv[2]!.trim();
    recognized++;
    if (key.startsWith('CodeDirectory')) {
      // `CodeDirectory v=20500 size=912 flags=0x10000(runtime) hashes=17+7 location=embedded`
      const m = /flags=(0x[0-9a-fA-F]+)(?:\(([^)]*)\))?/.exec(line);
      if (m) {
        info.cdFlagsValue = Number.parseInt(m[1]!, 16);
        info.cdFlags = (m[2] ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s && s !== 'none');
      }
      continue;
    }
    switch (key) {
      case 'Identifier':
        info.identifier = value || null;
        break;
      case 'Format':
        info.format = value || null;
        break;
      case 'Platform identifier': {
        const n = Number.parseInt(value, 10);
        info.platformIdentifier = Number.isFinite(n) ? n : 0;
        break;
      }
      case 'CDHash':
        if (/^[0-9a-fA-F]{40,64}$/.test(value)) info.cdhash = value.toLowerCase();
        break;
      case 'Signature':
        if (value === 'adhoc') info.signatureAdhoc = true;
        break;
      case 'Authority':
        info.authorities.push(value);
        break;
      case 'TeamIdentifier':
        info.teamId = value && value !== 'not set' ? value : null;
        break;
      case 'Notarization Ticket':
        info.notarizationStapled = value === 'stapled';
        break;
      default:
        break; // Executable, Hash type, Timestamp, Info.plist, Runtime Version, Sealed Resources …
    }
  }
  if (recognized === 0) throw new ParseError(text.trim() ? 'codesign output has no recognizable lines' : 'codesign printed nothing', text.trim() ? 1 : undefined);
  return { info, skipped };
}

/**
 * `codesign --verify --strict PATH`: exit 0 valid; exit 1 with "not signed at all" is not a verdict on
 * validity (the display step already says unsigned); other exit-1 texts are a broken signature.
 * Any other exit code (2 bad arguments, a crash) is inconclusive.
 */
export function parseCodesignVerify(stderr: string, exitCode: number): VerifyResult {
  if (exitCode === 0) return { valid: true, reason: null };
  if (exitCode !== 1) return null;
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines.some((l) => NOT_SIGNED.test(l))) return null;
  if (lines.some((l) => errorMessage(l) !== undefined && /No such file|Permission denied/i.test(l))) return null;
  const reasonLine = lines.find((l) => /: /.test(l)) ?? lines[0] ?? 'verification failed';
  return { valid: false, reason: reasonLine.slice(reasonLine.lastIndexOf(': ') + 2) || reasonLine };
}
