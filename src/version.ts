/** Reported in outflow_status.version and registerExtension. Keep in step with package.json. */
export const VERSION = '0.1.0';
/** osquery extension SDK version we speak (core rejects < 1.7.7). */
export const SDK_VERSION = '1.8.2';
