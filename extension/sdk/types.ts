/**
 * Plain TypeScript shapes of osquery's extension protocol (osquery.thrift). The rest of the SDK speaks
 * these; only thrift-bridge.ts converts to and from the generated Thrift classes.
 */
export const ExtensionCode = { SUCCESS: 0, FAILED: 1, FATAL: 2 } as const;

export interface ExtensionStatus {
  code: number;
  message: string;
  /** Route uuid (1..65535 in osquery core); 0 when not applicable. */
  uuid: number;
}

/** One row or one route: osquery passes every value as a string. */
export type PluginRow = Record<string, string>;

export interface ExtensionResponse {
  status: ExtensionStatus;
  response: PluginRow[];
}

export interface ExtensionInfo {
  name: string;
  version: string;
  sdk_version: string;
  min_sdk_version: string;
}

export interface OptionInfo {
  value: string;
  default_value: string;
  type: string;
}

/** registry name ("table", …) → plugin name → routes. */
export type ExtensionRegistry = Record<string, Record<string, PluginRow[]>>;

/** What an Extension service answers (osquery core calls these on `<socket>.<uuid>`). */
export interface ExtensionHandler {
  ping(): Promise<ExtensionStatus>;
  call(registry: string, item: string, request: PluginRow): Promise<ExtensionResponse>;
  shutdown(): Promise<void>;
}

/** What the ExtensionManager service answers (osquery core on `--socket`; the fake manager in tests). */
export interface ExtensionManagerHandler extends ExtensionHandler {
  extensions(): Promise<Map<number, ExtensionInfo>>;
  options(): Promise<Record<string, OptionInfo>>;
  registerExtension(info: ExtensionInfo, registry: ExtensionRegistry): Promise<ExtensionStatus>;
  deregisterExtension(uuid: number): Promise<ExtensionStatus>;
  query(sql: string): Promise<ExtensionResponse>;
  getQueryColumns(sql: string): Promise<ExtensionResponse>;
}

/** Minimal structured logger (pino-compatible) so the SDK depends on nothing of the host program. */
export interface SdkLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const nullLogger: SdkLogger = { debug() {}, info() {}, warn() {}, error() {} };

export type SdkErrorCode = 'MANAGER_UNREACHABLE' | 'REGISTRATION_FAILED' | 'RPC_TIMEOUT' | 'RPC_FAILED' | 'SOCKET_IN_USE' | 'PEER_REJECTED' | 'QUERY_FAILED';

/** Errors raised by the SDK itself (the host maps them onto its own error types at its edge). */
export class SdkError extends Error {
  override name = 'SdkError';
  constructor(
    readonly code: SdkErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
