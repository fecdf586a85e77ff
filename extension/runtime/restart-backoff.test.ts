import { describe, expect, it } from 'vitest';
import { RestartBackoff } from './restart-backoff.js';

describe('RestartBackoff', () => {
  it('doubles per consecutive failure up to the cap, and starts over after a healthy run', () => {
    const b = new RestartBackoff(1000, 60_000);
    expect(Array.from({ length: 8 }, () => b.next())).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    b.reset();
    expect(b.next()).toBe(1000);
    // many failures never overflow into Infinity or NaN
    const long = new RestartBackoff(50, 100);
    for (let i = 0; i < 2000; i++) long.next();
    expect(long.next()).toBe(100);
  });
});
