import { ParseError } from '../../../src/errors.js';
import type { CodesignInfo, VerifyResult } from '../../../src/classify/signing-class.js';

export interface ParsedCodesign {
  info: CodesignInfo;
  /** Lines that were neither `Key=Value` nor a known message. */
  skipped: number;
}

const NOT_SIGNED = 'code object is not signed at all';
/** Messages codesign prints after `PATH: ` instead of a signature: whole messages, then message prefixes. */
const ERROR_WHOLE = /^(?:no such file or directory|permission denied|the sealed resource directory is invalid)$/;
const ERROR_PREFIX = /^(?:bundle format unrecognized|bundle format is ambiguous|unsupported format)/;
const NOT_VALID_CODE = 'not a valid code object';

/**
 * What codesign says of `path` on a line: the text after `PATH: `, where PATH is the path it was given (it echoes
 * its argument). Undefined for any other line. Only this part may be read as a message: the path is chosen by
 * whoever named the file, and a folder called `No such file: unsupported format` must not read as one.
 */
export function messageFor(line: string, path: string): string | undefined {
  const prefix = `${path}: `;
  return line.startsWith(prefix) ? line.slice(prefix.length) : undefined;
}

/** `message` (the text after `PATH: `) when it is one of codesign's per-path errors, else undefined. */
export function errorMessage(message: string): string | undefined {
  const lower = message.toLowerCase();
  return ERROR_WHOLE.test(lower) || ERROR_PREFIX.test(lower) || lower.includes(NOT_VALID_CODE) ? message : undefined;
}

/**
 * `codesign -dvvv --verbose=4 PATH` (stderr) → fields located by key (formats.md §4.1). Unknown keys are
 * ignored; repeated `Authority=` lines are kept in order (leaf first). Messages (`PATH: code object is not signed
 * at all`) are read only after the `path` codesign was given. Throws ParseError only when the text has nothing
 * codesign would print.
 */
export function parseCodesignDisplay(text: string, path: string): ParsedCodesign {
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
    const message = messageFor(line, path);
    if (message !== undefined) {
      if (message.startsWith(NOT_SIGNED)) info.notSigned = true;
      else if (errorMessage(message) !== undefined) info.error = message;
      else {
        skipped++;
        continue;
      }
      recognized++;
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9 .]*?)=(.*)$/.exec(line);
    if (!kv) {
      skipped++;
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
 * validity (the display step already says unsigned) unless it is about a nested component (`In subcomponent:`) or
 * one architecture of a universal file (`In architecture:`),
 * nor is a missing or unreadable file; any other exit-1
 * text is a broken signature, also when no line names `path` (fail closed). Any other exit code (2 bad
 * arguments, a crash) is inconclusive.
 */
export function parseCodesignVerify(stderr: string, exitCode: number, path: string): VerifyResult {
  if (exitCode === 0) return { valid: true, reason: null };
  if (exitCode !== 1) return null;
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const messages = lines.map((l) => messageFor(l, path)).filter((m): m is string => m !== undefined);
  // `In subcomponent: …` says the unsigned code is nested in a signed bundle, `In architecture: …` that it is one slice
  // of a universal file whose displayed slice is signed (verify checks every slice): a broken signature of the whole
  const nested = lines.some((l) => l.startsWith('In subcomponent:') || l.startsWith('In architecture:'));
  if (!nested && messages.some((m) => m.startsWith(NOT_SIGNED))) return null;
  if (messages.some((m) => /^(?:no such file or directory|permission denied)$/i.test(m))) return null;
  return { valid: false, reason: messages[0] ?? lines[0] ?? 'verification failed' };
}
