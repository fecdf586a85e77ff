/** SQL in osquery core from an extension (osquery-go's ExtensionManagerClient.QueryRows). */
import { ExtensionManagerClient, type RpcOptions } from './thrift-bridge.js';
import { SdkError, type PluginRow } from './types.js';

export interface CoreQuery {
  /** Rows as core returns them; rejects with SdkError when core refuses the SQL or does not answer. */
  query(sql: string): Promise<PluginRow[]>;
}

/** One fresh connection to the manager at `socket` per query, like every other manager call. */
export function coreQuery(socket: string, opts: RpcOptions): CoreQuery {
  const client = new ExtensionManagerClient(socket, opts);
  return {
    async query(sql) {
      const reply = await client.query(sql);
      if (reply.status.code !== 0) throw new SdkError('QUERY_FAILED', `osquery core refused the query (${reply.status.code}): ${reply.status.message || 'no message'}`);
      return reply.response;
    },
  };
}
