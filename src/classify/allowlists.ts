import type { AppMatcher, OutflowConfig } from '../config/index.js';
import { matchesApp } from './app-match.js';

/**
 * Default app allowlists (SPEC §4): browsers, sanctioned uploaders and terminal apps, matched by team id +
 * signing-id prefix only — never by name, path or destination, which malware controls. Apple platform code
 * has no team id and is written "APPLE".
 *
 * `verified` records whether the team id was confirmed from a public source (a published Santa rule,
 * Little Snitch export, vendor doc); unverified ones are listed in docs/allowlists.md with how an admin
 * checks theirs (`codesign -dv --verbose=4 /path/to/App.app`). A wrong team id only means the app is not
 * exempted (it keeps producing candidates), never that something else is.
 */
export interface DefaultAppMatcher extends AppMatcher {
  name: string;
  category: string;
  verified: boolean;
}

const APPLE = 'APPLE';
const GOOGLE = 'EQHXZ8M8AV';
const MICROSOFT = 'UBF8T346G9';

export const DEFAULT_BROWSERS: readonly DefaultAppMatcher[] = [
  { team_id: APPLE, signing_id_prefix: 'com.apple.Safari', name: 'Safari', category: 'browser', verified: true },
  // Safari's networking and content processes are WebKit XPC services owned by Safari (its responsible pid): they count
  // as Safari through it. WebKit itself is not listed: every app's WKWebView runs the same XPC services.
  { team_id: GOOGLE, signing_id_prefix: 'com.google.Chrome', name: 'Google Chrome', category: 'browser', verified: true },
  { team_id: '43AQ936H96', signing_id_prefix: 'org.mozilla.firefox', name: 'Firefox', category: 'browser', verified: true },
  { team_id: '43AQ936H96', signing_id_prefix: 'org.mozilla.firefoxdeveloperedition', name: 'Firefox Developer Edition', category: 'browser', verified: true },
  { team_id: '43AQ936H96', signing_id_prefix: 'org.mozilla.nightly', name: 'Firefox Nightly', category: 'browser', verified: true },
  // Firefox content/network processes run as plugin-container.
  { team_id: '43AQ936H96', signing_id_prefix: 'org.mozilla.plugincontainer', name: 'Firefox helpers', category: 'browser', verified: true },
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.edgemac', name: 'Microsoft Edge', category: 'browser', verified: true },
  { team_id: 'KL8N8XSYF4', signing_id_prefix: 'com.brave.Browser', name: 'Brave', category: 'browser', verified: true },
  { team_id: 'S6N382Y83G', signing_id_prefix: 'company.thebrowser.Browser', name: 'Arc', category: 'browser', verified: true },
  // Arc's helpers are signed `company.thebrowser.browser.helper` (lower case).
  { team_id: 'S6N382Y83G', signing_id_prefix: 'company.thebrowser.browser', name: 'Arc helpers', category: 'browser', verified: true },
  { team_id: '4XF3XNRN6Y', signing_id_prefix: 'com.vivaldi.Vivaldi', name: 'Vivaldi', category: 'browser', verified: true },
  { team_id: 'A2P9LX4JPN', signing_id_prefix: 'com.operasoftware.Opera', name: 'Opera', category: 'browser', verified: true },
];

export const DEFAULT_SANCTIONED: readonly DefaultAppMatcher[] = [
  // sync
  { team_id: 'G7HH3F8CAK', signing_id_prefix: 'com.getdropbox.dropbox', name: 'Dropbox', category: 'sync', verified: true },
  { team_id: 'G7HH3F8CAK', signing_id_prefix: 'com.dropbox', name: 'Dropbox helpers', category: 'sync', verified: true },
  { team_id: GOOGLE, signing_id_prefix: 'com.google.drivefs', name: 'Google Drive', category: 'sync', verified: true },
  { team_id: GOOGLE, signing_id_prefix: 'com.google.GoogleDrive', name: 'Google Drive (Backup and Sync)', category: 'sync', verified: true },
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.OneDrive', name: 'OneDrive', category: 'sync', verified: true },
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.OneDriveStandaloneUpdater', name: 'OneDrive updater', category: 'sync', verified: true },
  { team_id: 'M683GB7CPW', signing_id_prefix: 'com.box', name: 'Box Drive', category: 'sync', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.bird', name: 'iCloud Drive (bird)', category: 'sync', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.cloudd', name: 'CloudKit (cloudd)', category: 'sync', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.cloudphotod', name: 'iCloud Photos', category: 'sync', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.CloudDocs', name: 'iCloud Drive file provider', category: 'sync', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.fileproviderd', name: 'File Provider', category: 'sync', verified: true },
  // backup
  { team_id: APPLE, signing_id_prefix: 'com.apple.backupd', name: 'Time Machine', category: 'backup', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.backupd-helper', name: 'Time Machine helper', category: 'backup', verified: true },
  { team_id: 'QH4P3Q5S9F', signing_id_prefix: 'com.backblaze', name: 'Backblaze', category: 'backup', verified: false }, // unverified
  { team_id: '9YV9435DHD', signing_id_prefix: 'com.backup42', name: 'CrashPlan (Code42)', category: 'backup', verified: true },
  { team_id: '9YV9435DHD', signing_id_prefix: 'com.code42', name: 'CrashPlan (Code42)', category: 'backup', verified: true },
  { team_id: '9YV9435DHD', signing_id_prefix: 'com.crashplan', name: 'CrashPlan', category: 'backup', verified: true },
  { team_id: '48ZCSDVL96', signing_id_prefix: 'com.haystacksoftware', name: 'Arq', category: 'backup', verified: true },
  // conferencing
  { team_id: 'BJ4HAAB9B3', signing_id_prefix: 'us.zoom', name: 'Zoom', category: 'conferencing', verified: true },
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.teams', name: 'Microsoft Teams (classic)', category: 'conferencing', verified: true },
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.teams2', name: 'Microsoft Teams', category: 'conferencing', verified: true },
  { team_id: 'BQR82RBBHL', signing_id_prefix: 'com.tinyspeck.slackmacgap', name: 'Slack', category: 'conferencing', verified: true },
  { team_id: 'DE8Y96K9QP', signing_id_prefix: 'Cisco-Systems.Spark', name: 'Webex', category: 'conferencing', verified: true },
  { team_id: 'DE8Y96K9QP', signing_id_prefix: 'com.webex', name: 'Webex Meetings', category: 'conferencing', verified: true },
  { team_id: 'DE8Y96K9QP', signing_id_prefix: 'com.cisco.webexmeetingsapp', name: 'Webex Meetings app', category: 'conferencing', verified: true },
  // VPN / zero-trust clients: their own tunnel to the gateway is a long-lived, symmetric flow that is never upload-shaped,
  // so its pair never becomes upload-normal and AN0082 would fire on every host that runs one, every day. The apps a
  // tunnel carries are flows of their own processes.
  { team_id: 'PXPZ95SK77', signing_id_prefix: 'com.paloaltonetworks.GlobalProtect', name: 'GlobalProtect', category: 'vpn', verified: true },
  { team_id: 'DE8Y96K9QP', signing_id_prefix: 'com.cisco.anyconnect', name: 'Cisco Secure Client (AnyConnect)', category: 'vpn', verified: true },
  { team_id: 'PCBCQZJ7S7', signing_id_prefix: 'com.zscaler', name: 'Zscaler Client Connector', category: 'vpn', verified: true },
  { team_id: 'W5364U7YZB', signing_id_prefix: 'io.tailscale.ipn', name: 'Tailscale', category: 'vpn', verified: true },
  // MDM / EDR / fleet agents
  { team_id: '483DWKW443', signing_id_prefix: 'com.jamf', name: 'Jamf', category: 'mdm', verified: true },
  { team_id: '483DWKW443', signing_id_prefix: 'com.jamfsoftware', name: 'Jamf (jamf binary)', category: 'mdm', verified: true },
  // Kandji's agent binaries use bare signing ids.
  { team_id: 'P3FGV63VK7', signing_id_prefix: 'kandji-daemon', name: 'Kandji agent', category: 'mdm', verified: true },
  { team_id: 'P3FGV63VK7', signing_id_prefix: 'kandji-library-manager', name: 'Kandji library manager', category: 'mdm', verified: true },
  { team_id: 'P3FGV63VK7', signing_id_prefix: 'io.kandji', name: 'Kandji apps', category: 'mdm', verified: true },
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.intune', name: 'Intune', category: 'mdm', verified: true },
  // its agent and daemon (scripts, log collection): com.microsoft.intuneMDMAgent[.daemon], which the prefix above does not match
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.intuneMDMAgent', name: 'Intune agent', category: 'mdm', verified: true },
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.CompanyPortalMac', name: 'Intune Company Portal', category: 'mdm', verified: true },
  { team_id: 'X9E956P446', signing_id_prefix: 'com.crowdstrike', name: 'CrowdStrike Falcon', category: 'edr', verified: true },
  { team_id: '4AYE5J54KN', signing_id_prefix: 'com.sentinelone', name: 'SentinelOne', category: 'edr', verified: true },
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.wdav', name: 'Microsoft Defender', category: 'edr', verified: true },
  { team_id: '3522FA9PXF', signing_id_prefix: 'io.osquery', name: 'osquery', category: 'edr', verified: true },
  { team_id: '8VBZ3948LU', signing_id_prefix: 'com.fleetdm', name: 'Fleet orbit', category: 'edr', verified: true },
  { team_id: '8VBZ3948LU', signing_id_prefix: 'io.osquery', name: 'osquery (fleetd build)', category: 'edr', verified: false }, // unverified
  // Apple system uploaders
  { team_id: APPLE, signing_id_prefix: 'com.apple.nsurlsessiond', name: 'Background transfers', category: 'apple_system', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.SubmitDiagInfo', name: 'Diagnostics submission', category: 'apple_system', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.analyticsd', name: 'Analytics', category: 'apple_system', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.softwareupdated', name: 'Software Update', category: 'apple_system', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.apsd', name: 'Push notifications', category: 'apple_system', verified: true },
  { team_id: APPLE, signing_id_prefix: 'com.apple.mobileassetd', name: 'Mobile assets', category: 'apple_system', verified: true },
];

export const DEFAULT_TERMINALS: readonly DefaultAppMatcher[] = [
  { team_id: APPLE, signing_id_prefix: 'com.apple.Terminal', name: 'Terminal', category: 'terminal', verified: true },
  { team_id: 'H7V7XYVQ7D', signing_id_prefix: 'com.googlecode.iterm2', name: 'iTerm2', category: 'terminal', verified: true },
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.VSCode', name: 'Visual Studio Code', category: 'terminal', verified: true },
  { team_id: MICROSOFT, signing_id_prefix: 'com.microsoft.VSCodeInsiders', name: 'Visual Studio Code Insiders', category: 'terminal', verified: true },
  { team_id: '2BBY89MBSN', signing_id_prefix: 'dev.warp', name: 'Warp', category: 'terminal', verified: true },
  { team_id: '24VZTF6M5V', signing_id_prefix: 'com.mitchellh.ghostty', name: 'Ghostty', category: 'terminal', verified: true },
  { team_id: '2ZEFAR8TH3', signing_id_prefix: 'com.jetbrains', name: 'JetBrains IDEs', category: 'terminal', verified: true },
];

export interface ResolvedAllowlists {
  browsers: readonly AppMatcher[];
  sanctioned: readonly AppMatcher[];
  terminals: readonly AppMatcher[];
}

/** Defaults merged with config.allowlists (config entries first; `replace_defaults` drops the defaults). */
export function resolveAllowlists(config: Pick<OutflowConfig, 'allowlists'>): ResolvedAllowlists {
  const a = config.allowlists;
  const withDefaults = <T extends AppMatcher>(extra: readonly T[], defaults: readonly AppMatcher[]) => (a.replace_defaults ? [...extra] : [...extra, ...defaults]);
  return {
    browsers: withDefaults(a.browsers, DEFAULT_BROWSERS),
    sanctioned: withDefaults(a.sanctioned, DEFAULT_SANCTIONED),
    terminals: withDefaults(a.terminals, DEFAULT_TERMINALS),
  };
}

export function matchesResolved(list: readonly AppMatcher[], team: string, signingId: string | null | undefined): boolean {
  return matchesApp(list, team, signingId) !== undefined;
}

export interface AppClass {
  browser: boolean;
  sanctioned: boolean;
  terminal: boolean;
}

const resolvedCache = new WeakMap<object, ResolvedAllowlists>();

/**
 * Browser / sanctioned / terminal membership of an app identity. `team` is a team key (team id, or
 * "APPLE" for platform code — see teamKey in app-match.ts). Resolved lists are cached per config object.
 */
export function classifyApp(config: Pick<OutflowConfig, 'allowlists'>, team: string, signingId: string | null | undefined): AppClass {
  let lists = resolvedCache.get(config.allowlists);
  if (!lists) {
    lists = resolveAllowlists(config);
    resolvedCache.set(config.allowlists, lists);
  }
  return {
    browser: matchesResolved(lists.browsers, team, signingId),
    sanctioned: matchesResolved(lists.sanctioned, team, signingId),
    terminal: matchesResolved(lists.terminals, team, signingId),
  };
}
