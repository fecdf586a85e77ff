import { z } from 'zod';
import { NatsInputConfigSchema, PostgresConfigSchema } from './fleet-shared.js';

/**
 * Fleet aggregator settings (SPEC §5). Owned by fleet/; extended there as features land.
 */
export const FleetConfigSchema = z
  .object({
    /** `./outflow.db` (SQLite file, default) or `postgres://…` (shared store). */
    store: z.string().default('./outflow.db'),
    /** JetStream input (several instances share one durable consumer); absent = no NATS input. */
    nats: NatsInputConfigSchema.optional(),
    /** PostgreSQL store tuning (used when `store` is a postgres:// URL). */
    postgres: PostgresConfigSchema,
  })
  .passthrough()
  .prefault({});

export type FleetConfig = z.infer<typeof FleetConfigSchema>;
