import { ParseError } from '../../../src/errors.js';
import type { SpctlInfo } from '../../../src/classify/signing-class.js';
import { messageFor } from './parse-codesign.js';

/**
 * `spctl --assess --type execute -vv PATH` (stdout+stderr; formats.md §4.2):
 * `PATH: accepted` | `PATH: rejected[ (reason)]`, then `source=…`, `origin=…`. The verdict is read only after the
 * `path` spctl was given (a folder may be named `x: accepted (`). Throws ParseError when no verdict and no key
 * line is present.
 */
export function parseSpctlAssess(text: string, path: string): { info: SpctlInfo; skipped: number } {
  const info: SpctlInfo = { verdict: null, reason: null, source: null, origin: null };
  let skipped = 0;
  let recognized = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const kv = /^(source|origin|override)=(.*)$/.exec(line);
    if (kv) {
      recognized++;
      if (kv[1] === 'source') info.source = kv[2]!.trim() || null;
      else if (kv[1] === 'origin') info.origin = kv[2]!.trim() || null;
      continue;
    }
    const message = messageFor(line, path);
    const verdict = message === undefined ? null : /^(accepted|rejected)(?:\s*\((.*)\))?\s*$/.exec(message);
    if (verdict) {
      recognized++;
      info.verdict = verdict[1] as 'accepted' | 'rejected';
      info.reason = verdict[2] ?? null;
      continue;
    }
    skipped++;
  }
  if (recognized === 0) throw new ParseError(text.trim() ? 'spctl output has no verdict' : 'spctl printed nothing');
  return { info, skipped };
}
