/**
 * Standard output of the CLI commands (query, doctor, fleet …). A reader that went away (`| head`, `| true`) ends the output quietly, as
 * for any Unix tool: what is left to write is dropped and the command finishes with its own exit code (an ingest
 * whose summary nobody reads still committed what it read). Other write errors stay errors.
 */
let guarded = false;
let readerGone = false;

/**
 * Take standard output's EPIPE as the reader going away, from now on: the CLI calls this first, so that output
 * written by anything else (commander's help) cannot crash the process either.
 */
export function guardStdout(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      readerGone = true;
      return;
    }
    // another listener takes it (fleet serve's stdout sink reports a failed write and retries it): not ours to throw
    if (process.stdout.listenerCount('error') > 1) return;
    throw err;
  });
}

export function writeOut(text: string): void {
  guardStdout();
  if (readerGone) return;
  process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
}

/** The reader of standard output has gone: a command that repeats (`query --collect`) stops. */
export function stdoutReaderGone(): boolean {
  return readerGone;
}
