import { z } from 'zod';

/**
 * Fleet aggregator settings (SPEC §5). Owned by fleet/; extended there as features land.
 */
export const FleetConfigSchema = z
  .object({
    /** `./outflow.db` (SQLite file, default) or `postgres://…` (shared store). */
    store: z.string().default('./outflow.db'),
  })
  .passthrough()
  .prefault({});

export type FleetConfig = z.infer<typeof FleetConfigSchema>;
