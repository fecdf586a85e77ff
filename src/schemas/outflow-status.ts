/**
 * The `outflow_status` vocabulary (SPEC §2) shared by the extension, which reports it, and the fleet, which counts it
 * (outflow_host_status on /metrics): a component or state outside these lists came from something else than this
 * version's extension, and the fleet counts it as "other" rather than as a series of its own.
 */
export const STATUS_COMPONENTS = ['extension', 'flows', 'nettop', 'ss', 'processes', 'code_signing', 'codesign', 'package_db', 'dns_names', 'eslogger'] as const;
export type StatusComponent = (typeof STATUS_COMPONENTS)[number];

/** In order of how much they need an operator (the fleet lists the worst first). */
export const STATUS_STATES = ['running', 'disabled', 'degraded', 'unavailable', 'permission_denied'] as const;
