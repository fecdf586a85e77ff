import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where JSON lines go. Default: stderr (the extension never logs to stdout). */
  destination?: DestinationStream;
  name?: string;
}

export const REDACT_PATHS = ['*.node_key', '*.enroll_secret', '*.password', '*.token', 'headers.authorization', 'req.headers.authorization'];

/** One root logger per process, created in a main.ts and passed down. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'outflow',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that discards everything: for pure-ish code under test. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
