/**
 * Restart delays for a supervised long-running tool (eslogger, tcpdump): `initialMs`, doubling with each
 * consecutive failure up to `maxMs`; a run that lasted long enough to count as healthy starts it over.
 */
export class RestartBackoff {
  private failures = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /** One more consecutive failure: the delay before the next start. */
  next(): number {
    this.failures++;
    return Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures - 1, 20));
  }

  /** The tool ran long enough: the next failure waits `initialMs` again. */
  reset(): void {
    this.failures = 0;
  }
}

/** The first two lines of a tool's stderr, on one line (at most 300 characters), for a health detail. */
export function stderrHead(stderr: string, skip?: RegExp): string {
  const lines = stderr.trim().split('\n');
  return (skip ? lines.filter((l) => !skip.test(l)) : lines).slice(0, 2).join(' ').slice(0, 300);
}

/** `TOOL exited (code N | signal S): STDERR HEAD; restarting in D s`, the health detail of a supervised tool's exit. */
export function exitDetail(tool: string, code: number | null, signal: NodeJS.Signals | null, head: string, delayMs: number): string {
  const why = signal ? `signal ${signal}` : `code ${code}`;
  return `${tool} exited (${why})${head ? `: ${head}` : ''}; restarting in ${Math.round(delayMs / 100) / 10} s`;
}
