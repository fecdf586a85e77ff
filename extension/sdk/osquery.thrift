// osquery's Thrift extension protocol, written from the protocol facts in formats.md §1.2
// (field ids and types match osquery/osquery `osquery/extensions/thrift/osquery.thrift`).
// Regenerate extension/sdk/gen/ with `npm run gen:thrift` (scripts/gen-thrift.sh).

namespace js osquery

/// A registry call's request: e.g. {"action":"generate","context":"{…}"}.
typedef map<string, string> ExtensionPluginRequest
/// Rows or routes: every value is a string.
typedef list<map<string, string>> ExtensionPluginResponse

struct InternalOptionInfo {
  1: string value,
  2: string default_value,
  3: string type,
}

typedef map<string, InternalOptionInfo> InternalOptionList

struct InternalExtensionInfo {
  1: string name,
  2: string version,
  3: string sdk_version,
  4: string min_sdk_version,
}

typedef i64 ExtensionRouteUUID
/// plugin name → routes (for tables: the column list).
typedef map<string, ExtensionPluginResponse> ExtensionRouteTable
/// registry name ("table", "config", "logger", …) → its plugins.
typedef map<string, ExtensionRouteTable> ExtensionRegistry
typedef map<ExtensionRouteUUID, InternalExtensionInfo> InternalExtensionList

enum ExtensionCode {
  EXT_SUCCESS = 0,
  EXT_FAILED = 1,
  EXT_FATAL = 2,
}

struct ExtensionStatus {
  1: i32 code,
  2: string message,
  3: ExtensionRouteUUID uuid,
}

struct ExtensionResponse {
  1: ExtensionStatus status,
  2: ExtensionPluginResponse response,
}

/// Declared by osquery, never thrown over the wire.
exception ExtensionException {
  1: i32 code,
  2: string message,
  3: ExtensionRouteUUID uuid,
}

service Extension {
  ExtensionStatus ping(),
  ExtensionResponse call(1: string registry, 2: string item, 3: ExtensionPluginRequest request),
  /// Not oneway: the caller waits for the (empty) reply.
  void shutdown(),
}

service ExtensionManager extends Extension {
  InternalExtensionList extensions(),
  InternalOptionList options(),
  ExtensionStatus registerExtension(1: InternalExtensionInfo info, 2: ExtensionRegistry registry),
  ExtensionStatus deregisterExtension(1: ExtensionRouteUUID uuid),
  ExtensionResponse query(1: string sql),
  ExtensionResponse getQueryColumns(1: string sql),
}
