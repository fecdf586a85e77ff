/**
 * Modes of what the fleet aggregator creates (store, quarantine, detection files, webhook spool): they hold
 * every Mac's process paths, hostnames and destinations. Readable by the owner's group (a log shipper), never
 * by everyone; the systemd unit's UMask=0027 says the same for anything else.
 */
export const PRIVATE_FILE_MODE = 0o640;
export const PRIVATE_DIR_MODE = 0o750;
