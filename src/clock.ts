/** Time source. Collectors and rules take a Clock so tests can pin time. Unix seconds everywhere in tables. */
export interface Clock {
  now(): Date;
  /** Unix seconds (integer). */
  unix(): number;
  /** Milliseconds since the epoch (for durations). */
  ms(): number;
}

export const systemClock: Clock = {
  now: () => new Date(),
  unix: () => Math.floor(Date.now() / 1000),
  ms: () => Date.now(),
};

/** A clock tests can move by hand. */
export function fixedClock(start: Date | number): Clock & { set(t: Date | number): void; advance(seconds: number): void } {
  let t = typeof start === 'number' ? start * 1000 : start.getTime();
  return {
    now: () => new Date(t),
    unix: () => Math.floor(t / 1000),
    ms: () => t,
    set(v) {
      t = typeof v === 'number' ? v * 1000 : v.getTime();
    },
    advance(seconds) {
      t += seconds * 1000;
    },
  };
}
