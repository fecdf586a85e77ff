/**
 * Requests for an early flow sample, from whoever sees a transfer start (the eslogger collector, at the exec of
 * `curl` or when an archive is finished in a staging place), to the collector that samples flows (nettop). A short
 * upload can begin and end between two samples of `flows.sample_interval`; an earlier sample catches it while its
 * connection is open. The sampler decides when: a request never makes samples closer than its own minimum gap.
 */
export class SampleRequests {
  private listener: (() => void) | undefined;

  /** The sampler's handler; returns the function that removes it. One sampler at a time. */
  listen(handler: () => void): () => void {
    this.listener = handler;
    return () => {
      if (this.listener === handler) this.listener = undefined;
    };
  }

  request(): void {
    this.listener?.();
  }
}
