import { describe, expect, it } from 'vitest';
import { ComponentHealth } from './health.js';

describe('component health: last_event', () => {
  it('is the time the event happened when the collector gives it, not when it was counted', () => {
    const health = new ComponentHealth('eslogger', () => 1_772_500_600);
    health.event(1, 1_772_500_000);
    expect([health.events, health.lastEvent]).toEqual([1, 1_772_500_000]);
    health.event(2);
    expect([health.events, health.lastEvent]).toEqual([3, 1_772_500_600]);
  });
});
