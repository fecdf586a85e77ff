/**
 * SPEC §4 destination key: server_name's registrable domain (FQDN under shared suffixes), "or the IP". A name that
 * normalizes to nothing (".", "[", " ") falls back to the flow's own IP, memo or not: the keyer the fleet's ingest
 * uses must not keep the first such flow's IP under the name (through ingest in
 * test/fleet/destination-key-empty-names.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { createDestinationKeyer, destinationKey } from './destination.js';

describe('destination keyer: names that normalize to nothing', () => {
  it.each(['.', '[', ' '])('server_name %j keys each flow by its own IP, as destinationKey does', (name) => {
    const keyOf = createDestinationKeyer();
    expect(destinationKey(name, '198.51.100.7')).toBe('198.51.100.7');
    keyOf(name, '203.0.113.9');
    expect(keyOf(name, '198.51.100.7')).toBe('198.51.100.7');
  });
});
