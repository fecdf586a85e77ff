import type { SensitiveFileEventRow } from '../../runtime/context.js';

/**
 * Rows that can be a precursor (SPEC §4): a read of sensitive data (an open for reading, a clone's source) or a move
 * of it. A process that writes a file there (a download into ~/Downloads, a save, a file created under a tier-1 path)
 * read nothing of it.
 */
export function readsOrMovesData(operation: SensitiveFileEventRow['operation']): boolean {
  return operation === 'open' || operation === 'rename';
}
