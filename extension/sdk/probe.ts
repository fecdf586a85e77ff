/** One-shot probes of an osquery manager socket (used by `outflow doctor`). */
import { ExtensionManagerClient } from './thrift-bridge.js';

export interface ListedExtension {
  uuid: number;
  name: string;
  version: string;
  sdk_version: string;
}

/** Extensions registered with the manager at `socket`; rejects when it does not answer within timeoutMs. */
export async function listExtensions(socket: string, timeoutMs = 3000): Promise<ListedExtension[]> {
  const client = new ExtensionManagerClient(socket, { timeoutMs });
  const map = await client.extensions();
  return [...map].map(([uuid, info]) => ({ uuid, name: info.name, version: info.version, sdk_version: info.sdk_version }));
}
