/**
 * Outflow's osquery extension SDK (osquery-go's shape, in TypeScript, on the `thrift` package).
 * Self-contained: imports only `thrift` and node:*; nothing else in the repository imports `thrift`.
 */
export { OsqueryExtension, exitCodeFor, parseSecondsFlag, type ExtensionOptions, type StopReason } from './extension.js';
export { coreQuery, type CoreQuery } from './core-query.js';
export { ExtensionClient, ExtensionManagerClient, serveExtension, serveExtensionManager, type ThriftServer, type RpcOptions } from './thrift-bridge.js';
export { TableRouter, ColumnOption, tableRoutes, cellToString, rowToPluginRow, type TablePlugin, type TableColumn, type TableRow, type CellValue, type SqlColumnType } from './table-plugin.js';
export { parseQueryContext, emptyQueryContext, constraintValues, formatQueryContext, Op, type QueryContext, type Constraint, type NamedConstraint, type OpCode } from './query-context.js';
export * from './types.js';
