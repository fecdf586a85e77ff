import { bigint, defineTable, integer, text } from '../../runtime/define-table.js';
import type { ExtensionContext, SigningRow } from '../../runtime/context.js';
import { constraintValues, type QueryContext } from '../../sdk/query-context.js';

/** Absolute paths only: a relative one (or one starting with a digit — a pid to codesign) never reaches a tool. */
const ABSOLUTE_PATH = /^\/[^\0]*$/;

/** Executables of every running process, deduplicated, in a stable order. */
export function runningExecutables(ctx: ExtensionContext): string[] {
  const paths = new Set<string>();
  for (const p of ctx.processes.running()) if (p.path && p.path.startsWith('/')) paths.add(p.path);
  return [...paths].sort();
}

/**
 * SPEC §2 `code_signing`: a view over the signing cache. Never waits on codesign: a path not checked
 * yet is returned as `unknown` (checked_at 0) and its check is queued in the background.
 */
export const codeSigning = defineTable({
  name: 'code_signing',
  description: 'Code-signing status of executables (codesign/spctl on macOS, package ownership on Linux); without a path constraint, of every running process.',
  columns: {
    // OPTIMIZED: `path IN (…)` arrives as one generate with every value (formats.md §1.4).
    path: text({ index: true, optimized: true }),
    signed: integer(),
    valid: integer(),
    signature_class: text(),
    team_id: text(),
    signing_id: text(),
    authority: text(),
    cdhash: text(),
    notarized: integer(),
    hardened_runtime: integer(),
    identity: text(),
    checked_at: bigint(),
  },
  platforms: ['darwin', 'linux'],
  generate(ctx: ExtensionContext, query: QueryContext): SigningRow[] {
    const wanted = constraintValues(query, 'path', { allowed: ABSOLUTE_PATH });
    const paths = wanted ? [...new Set(wanted)] : runningExecutables(ctx);
    return paths.map((p) => ({ ...ctx.signing.lookupOrUnknown(p) }));
  },
});
