/**
 * Typed errors with stable codes and an actionable hint. Translated at the edges only:
 * the SDK turns them into `{code: 1, message}`, the HTTP API into status codes, the CLI into exit codes.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  | 'INPUT_INVALID'
  | 'PARSE_FAILED'
  | 'TOOL_NOT_FOUND'
  | 'TOOL_NOT_ALLOWED'
  | 'TOOL_TIMEOUT'
  | 'TOOL_OUTPUT_LIMIT'
  | 'TOOL_FAILED'
  | 'TOOL_PERMISSION'
  | 'TOOL_ABORTED'
  | 'TABLE_UNKNOWN'
  | 'TABLE_TIMEOUT'
  | 'TABLE_FAILED'
  | 'MANAGER_UNREACHABLE'
  | 'REGISTRATION_FAILED'
  | 'STORE_OPEN'
  | 'STORE_WRITE'
  | 'STORE_READ'
  | 'STORE_MIGRATE'
  | 'JOB_BUSY'
  | 'JOB_LOCK_LOST'
  | 'SINK_FAILED'
  | 'AUTH_REQUIRED'
  | 'BODY_TOO_LARGE'
  | 'SHUTDOWN_INCOMPLETE'
  | 'UNSUPPORTED_PLATFORM';

export class OutflowError extends Error {
  override name = 'OutflowError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** One line a user can act on: message plus hint. */
  toUserMessage(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export class ToolError extends OutflowError {
  override name = 'ToolError';
  constructor(
    code: Extract<ErrorCode, `TOOL_${string}`>,
    message: string,
    readonly tool: string,
    readonly details: { exitCode?: number | null; signal?: string | null; stderrHead?: string } = {},
    hint?: string,
    options?: ErrorOptions,
  ) {
    super(code, message, hint, options);
  }
}

export interface InputIssue {
  path: string;
  message: string;
}

export class InputError extends OutflowError {
  override name = 'InputError';
  readonly isClientError = true;
  constructor(
    message: string,
    readonly issues: InputIssue[] = [],
    hint?: string,
    code: Extract<ErrorCode, 'INPUT_INVALID' | 'CONFIG_INVALID' | 'PARSE_FAILED'> = 'INPUT_INVALID',
    options?: ErrorOptions,
  ) {
    super(code, issues.length ? `${message}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}` : message, hint, options);
  }
}

/** Thrown by a parser only when the whole input is unrecognizable (line numbers are 1-based). */
export class ParseError extends OutflowError {
  override name = 'ParseError';
  constructor(message: string, readonly line?: number, hint?: string) {
    super('PARSE_FAILED', line === undefined ? message : `${message} (line ${line})`, hint);
  }
}

export class StoreError extends OutflowError {
  override name = 'StoreError';
}

/** Normalise anything thrown into an Error so it can be logged and reported. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  try {
    return new Error(JSON.stringify(value));
  } catch {
    return new Error(String(value));
  }
}

/** The system error code (ENOENT, EACCES, ECONNREFUSED, …) carried as `cause` by an error that wraps it. */
export function causeCode(err: unknown): string | undefined {
  const code = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Issues an error lists at most: a body of 100 000 bad records would otherwise get an answer of 100 000 issues. */
export const MAX_LISTED_ISSUES = 20;

/** zod issues → our InputIssue list (path joined with dots), the first MAX_LISTED_ISSUES and a count of the rest. */
export function zodIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): InputIssue[] {
  const listed = issues.slice(0, MAX_LISTED_ISSUES).map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const more = issues.length - listed.length;
  return more > 0 ? [...listed, { path: '', message: `and ${more} more issue${more === 1 ? '' : 's'} like these` }] : listed;
}
