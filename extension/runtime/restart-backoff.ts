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
