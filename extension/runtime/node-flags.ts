import v8 from 'node:v8';

/**
 * The V8 flag the packaged extension runs with (the one interpreter argument of outflow.ext's shebang).
 * A 4 MB semi-space caps the young generation, which otherwise grows to 32 MB under the collectors'
 * steady allocation: ~24 MB less resident memory for a little more scavenging. It must be a command-line
 * flag; v8.setFlagsFromString after start-up does not resize the heap. Benchmarks that measure the
 * extension's RSS run their process with it too.
 */
export const EXTENSION_NODE_FLAG = '--max-semi-space-size=4';

/**
 * Flags V8 reads at every full GC, so they work when set after start-up (the shebang has room for one
 * flag only). By default V8 lets the old generation grow up to 4× the live size before the next
 * mark-compact; under the collectors' churn (every tick's parse output is promoted, then dead) the flow
 * sampler idled at ~70 MB of old space for ~15–25 MB live, i.e. ~45 MB of resident garbage. A growing
 * factor of 1.5 keeps that headroom at ~half the live size for a similar CPU cost (more, smaller GCs of a
 * small heap). See docs/flows.md (benchmarks).
 */
export const EXTENSION_RUNTIME_V8_FLAGS = ['--heap-growing-percent=50'] as const;

/** Apply EXTENSION_RUNTIME_V8_FLAGS to this process (the extension at start-up; RSS benchmarks). */
export function applyExtensionHeapTuning(): void {
  for (const flag of EXTENSION_RUNTIME_V8_FLAGS) v8.setFlagsFromString(flag);
}
