import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a byte stream into lines. Pipe reads cut lines (and UTF-8 sequences) anywhere, so the tail of a
 * chunk waits for the next one. A line longer than `maxLineChars` is discarded up to its newline and
 * counted, so a runaway line (or a stream without newlines) cannot grow memory without bound.
 */
export class LineReader {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private discarding = false;
  /** Lines dropped for exceeding maxLineChars. */
  oversized = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    // An exec event carries argv and env: at most ARG_MAX (1 MiB on macOS) of bytes, which JSON writes as up to
    // 6 characters each (\u00XX for control bytes). 8 Mi characters hold the largest such line, so a process
    // cannot hide its exec (say, a zip of ~/Documents) behind a padded environment.
    private readonly maxLineChars = 8 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      if (this.discarding) {
        this.discarding = false;
      } else {
        const line = this.partial ? this.partial + text.slice(start, nl) : text.slice(start, nl);
        this.partial = '';
        if (line.length > this.maxLineChars) this.oversized++;
        else if (line.length) this.onLine(line);
      }
      start = nl + 1;
    }
    if (start < text.length && !this.discarding) {
      this.partial += text.slice(start);
      if (this.partial.length > this.maxLineChars) {
        this.partial = '';
        this.discarding = true;
        this.oversized++;
      }
    }
  }

  /** End of stream: a last line without newline is still delivered (the parser judges it). */
  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    const wasDiscarding = this.discarding;
    this.discarding = false;
    if (!wasDiscarding && rest.length) this.onLine(rest);
  }
}
