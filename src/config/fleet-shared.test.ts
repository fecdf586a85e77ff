import { describe, expect, it } from 'vitest';
import { NatsInputConfigSchema } from './fleet-shared.js';

describe('fleet.nats.fetch_wait_ms', () => {
  it('defaults to the wait a fetch really makes: nats.js refuses less than 1000 ms, so nats-source.ts waits at least that', () => {
    expect(NatsInputConfigSchema.parse({}).fetch_wait_ms).toBe(1000);
  });
});
