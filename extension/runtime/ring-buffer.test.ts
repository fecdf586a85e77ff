import { describe, expect, it } from 'vitest';
import { RingBuffer, ReservedRing } from './ring-buffer.js';

describe('RingBuffer.forEach', () => {
  it('visits oldest first, like the iterator, also after the buffer wrapped and pruned', () => {
    const b = new RingBuffer<number>(4, 100, (t) => t);
    for (let t = 1; t <= 7; t++) b.push(t); // wraps: keeps 4..7
    b.prune(105); // drops 4 (older than 105 − 100)
    const seen: number[] = [];
    b.forEach((t) => seen.push(t));
    expect(seen).toEqual([5, 6, 7]);
    expect(seen).toEqual([...b]);
  });
});

describe('RingBuffer.at', () => {
  it('indexes oldest first, like forEach, also after the buffer wrapped and pruned; undefined outside [0, size)', () => {
    const b = new RingBuffer<number>(4, 100, (t) => t);
    for (let t = 1; t <= 7; t++) b.push(t); // wraps: keeps 4..7
    b.prune(105); // drops 4
    expect([0, 1, 2].map((i) => b.at(i))).toEqual([5, 6, 7]);
    expect([-1, 3, 4, 1.5].map((i) => b.at(i))).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('ReservedRing', () => {
  const ring = () =>
    new ReservedRing<{ t: number; tier: number }>({ capacity: 4, maxAgeSeconds: 100 }, { capacity: 2, maxAgeSeconds: 1000 }, (e) => e.t, (e) => e.tier === 1);

  it('a flood of the others never evicts a reserved item, and counts what it evicted', () => {
    const r = ring();
    r.push({ t: 1, tier: 1 });
    for (let t = 2; t <= 50; t++) r.push({ t, tier: 2 });
    expect(r.toArray().map((e) => e.t)).toEqual([1, 47, 48, 49, 50]);
    expect([r.size, r.dropped]).toEqual([5, 45]);
  });

  it('keeps reserved items for their own age limit; forEach, at and iteration agree (reserved first, each oldest first)', () => {
    const r = ring();
    r.push({ t: 10, tier: 2 });
    r.push({ t: 20, tier: 1 });
    r.push({ t: 300, tier: 2 });
    r.push({ t: 310, tier: 1 });
    r.prune(350); // the others keep 250..350, the reserved 0..: all but t=10
    const seen: number[] = [];
    r.forEach((e) => seen.push(e.t));
    expect(seen).toEqual([20, 310, 300]);
    expect([...r].map((e) => e.t)).toEqual(seen);
    expect([0, 1, 2, 3, -1].map((i) => r.at(i)?.t)).toEqual([20, 310, 300, undefined, undefined]);
    r.prune(1100);
    expect(r.toArray().map((e) => e.t)).toEqual([310]);
  });
});
