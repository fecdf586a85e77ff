import type { CollectorFactory } from '../runtime/context.js';

/** The collector registry: one line per background collector (platforms come from each factory). */
export const COLLECTORS: CollectorFactory[] = [
];
