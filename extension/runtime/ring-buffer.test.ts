import { describe, expect, it } from 'vitest';
import { RingBuffer } from './ring-buffer.js';

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
