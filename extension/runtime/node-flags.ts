/**
 * The V8 flag the packaged extension runs with (the one interpreter argument of outflow.ext's shebang).
 * A 4 MB semi-space caps the young generation, which otherwise grows to 32 MB under the collectors'
 * steady allocation: ~24 MB less resident memory for a little more scavenging. It must be a command-line
 * flag; v8.setFlagsFromString after start-up does not resize the heap. Benchmarks that measure the
 * extension's RSS run their process with it too.
 */
export const EXTENSION_NODE_FLAG = '--max-semi-space-size=4';
