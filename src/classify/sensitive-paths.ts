import type { AppMatcher, SensitiveRule } from '../config/classify.js';
import { matchesApp, teamKey } from './app-match.js';

/**
 * The sensitive-path taxonomy (SPEC §2 `sensitive_file_events`) as data, plus a matcher that is cheap
 * enough to run on every file path eslogger reports.
 *
 * Pattern language (also for `taxonomy.add` in config):
 * - `~/…` is relative to every user home (`/Users/<name>` except `/Users/Shared`, and root's `/var/root`);
 *   `/…` is absolute; anything else matches at any depth (`*.kdbx` = `/**\/*.kdbx`).
 * - `*` matches within one path segment, `?` one character, `{a,b}` alternatives inside one segment,
 *   `**` any number of segments (as the last segment: at least one, so `~/Documents/**` is what is inside
 *   Documents, not the folder itself).
 * - Matching is on the canonical path (see canonicalPath), ignoring case: macOS volumes are case-insensitive by
 *   default, and a path as ES reports it may carry the case its opener typed (the kernel's name cache keeps the
 *   name of the lookup that made it), so `~/.SSH/ID_RSA` is the key `~/.ssh/id_*` names.
 *
 * Rules are tried in order, first match wins: config additions come first so they can re-categorise a
 * path, then the built-ins from most to least specific.
 *
 * A directory holds a rule's files when its path leads to them (SensitivePathMatcher.matchBelow: a folder cloned or
 * moved whole, ~/.aws or a Chrome profile): its segments match the pattern's leading segments, and the pattern names its
 * last one: a segment with literal text, a trailing `**`, or a lone `*` right under such a segment (a profile folder,
 * `Chrome/*`) but not the first of a run of lone `*`s. A folder only an inner `**` or a run of lone `*`s reaches
 * (`Application Support/<App>` for the wallet-extension rules' `Application Support/*\/*\/…`) is a place any folder
 * could be.
 */
export type SensitiveCategory = SensitiveRule['category'];
export type SensitiveTier = 1 | 2;

/** Tier 1 = credential stores (SPEC §2: the first six categories); tier 2 = user data. */
export const CATEGORY_TIER: Readonly<Record<SensitiveCategory, SensitiveTier>> = {
  keychain: 1,
  browser_secrets: 1,
  dev_credentials: 1,
  password_manager: 1,
  crypto_wallet: 1,
  messaging: 1,
  personal_data: 2,
  documents: 2,
  removable_volume: 2,
  shell_history: 2,
};

// --- authorized readers -------------------------------------------------------------------------------
// Team ids are the vendors' Developer ID teams; Apple platform code is "APPLE" (no team id in ES).
const apple = (...ids: string[]): AppMatcher[] => ids.map((signing_id_prefix) => ({ team_id: 'APPLE', signing_id_prefix }));
const vendor = (team_id: string, ...ids: string[]): AppMatcher[] => ids.map((signing_id_prefix) => ({ team_id, signing_id_prefix }));

/** Spotlight, QuickLook and Time Machine read everything the user owns as a matter of course. */
const INDEXERS_AND_BACKUP = apple(
  'com.apple.mdworker_shared',
  'com.apple.mdworker',
  'com.apple.mds',
  'com.apple.mdimport',
  'com.apple.quicklook',
  'com.apple.QuickLookUIFramework',
  'com.apple.QuickLookThumbnailing',
  'com.apple.backupd',
);
const KEYCHAIN_DAEMONS = apple('com.apple.securityd', 'com.apple.secd', 'com.apple.trustd', 'com.apple.security.XPCKeychainSandboxCheck');
const CHROME = vendor('EQHXZ8M8AV', 'com.google.Chrome');
const EDGE = vendor('UBF8T346G9', 'com.microsoft.edgemac');
const BRAVE = vendor('KL8N8XSYF4', 'com.brave.Browser');
// Arc's helpers (the network service reads Cookies) are signed `company.thebrowser.browser.helper`, lower case.
const ARC = vendor('S6N382Y83G', 'company.thebrowser.Browser', 'company.thebrowser.browser');
const VIVALDI = vendor('4XF3XNRN6Y', 'com.vivaldi.Vivaldi');
const OPERA = vendor('A2P9LX4JPN', 'com.operasoftware.Opera');
// Developer Edition and Nightly keep their profiles in the same Firefox/Profiles folder.
const FIREFOX = vendor('43AQ936H96', 'org.mozilla.firefox', 'org.mozilla.firefoxdeveloperedition', 'org.mozilla.nightly', 'org.mozilla.plugincontainer');
const SAFARI = apple('com.apple.Safari', 'com.apple.WebKit', 'com.apple.SafariServices', 'com.apple.CookieSyncAgent', 'com.apple.nsurlsessiond');
const ONE_PASSWORD = vendor('2BUA8C4S2C', 'com.1password', 'com.agilebits');
const BITWARDEN = vendor('LTZ2PFU5D6', 'com.bitwarden.desktop');
// KeePassXC opening the user's database (G2S7P7J672, Janek Bevendorff's Developer ID team: the app's designated
// requirement, Installomator's `keepassxc` label). The GUI app's signing id only, and what lies under it: keepassxc-cli
// prints what it reads (`show -s`, `export`), and a signing id of its own (whatever it is; not verified) is no match.
const KEEPASSXC = vendor('G2S7P7J672', 'org.keepassxc.keepassxc');

/** Chromium-family secret stores inside a profile folder (`Default`, `Profile 1`, …). */
const CHROMIUM_SECRETS = '{Login Data,Login Data For Account,Cookies,Web Data,Network}*';

function chromium(root: string, owner: AppMatcher[], profileAtRoot = false): SensitiveRule[] {
  // Opera keeps its (first) profile in the root folder itself, not in `Default/`: `com.operasoftware.Opera/Cookies`,
  // `…/Login Data`, `…/Network/Cookies`
  const profiles = profileAtRoot ? [`${root}/*`, root] : [`${root}/*`];
  return [
    ...profiles.flatMap((profile): SensitiveRule[] => [
      { pattern: `~/Library/Application Support/${profile}/${CHROMIUM_SECRETS}`, category: 'browser_secrets', authorized: owner },
      { pattern: `~/Library/Application Support/${profile}/Network/Cookies*`, category: 'browser_secrets', authorized: owner },
    ]),
    { pattern: `~/Library/Application Support/${root}/Local State`, category: 'browser_secrets', authorized: owner },
  ];
}

/** Wallet browser extensions (MetaMask, Phantom, Coinbase Wallet) keep their vaults in the profile. */
const WALLET_EXTENSION_IDS = '{nkbihfbeogaeaoehlefnkodbefgpgknn,bfnaelmomeimhlpmgjnjophhpkkoljpa,hnfanknocfeofbddgcijnmhnfnkdnaad}';

export const DEFAULT_SENSITIVE_RULES: readonly SensitiveRule[] = [
  // tier 1 — credential stores
  { pattern: '~/Library/Keychains/**', category: 'keychain', authorized: KEYCHAIN_DAEMONS },
  { pattern: '/Library/Keychains/**', category: 'keychain', authorized: KEYCHAIN_DAEMONS },

  { pattern: `~/Library/Application Support/*/*/Local Extension Settings/${WALLET_EXTENSION_IDS}/**`, category: 'crypto_wallet' },
  { pattern: `~/Library/Application Support/*/*/*/Local Extension Settings/${WALLET_EXTENSION_IDS}/**`, category: 'crypto_wallet' },
  { pattern: '~/Library/Application Support/Bitcoin/{wallets,wallet.dat}*', category: 'crypto_wallet' },
  { pattern: '~/Library/Application Support/Bitcoin/wallets/**', category: 'crypto_wallet' },
  { pattern: '~/Library/Application Support/Electrum/wallets/**', category: 'crypto_wallet' },
  { pattern: '~/.electrum/wallets/**', category: 'crypto_wallet' },
  { pattern: '~/Library/Application Support/Exodus/exodus.wallet/**', category: 'crypto_wallet' },
  { pattern: '~/Library/Application Support/atomic/Local Storage/**', category: 'crypto_wallet' },
  { pattern: '~/Library/Application Support/Ledger Live/**', category: 'crypto_wallet' },
  { pattern: '~/Library/Ethereum/keystore/**', category: 'crypto_wallet' },
  { pattern: '~/.ethereum/keystore/**', category: 'crypto_wallet' },
  { pattern: '~/.config/solana/id.json', category: 'crypto_wallet' },

  ...chromium('Google/Chrome', CHROME),
  ...chromium('Google/Chrome Beta', CHROME),
  // Canary (com.google.Chrome.canary) and Dev: AMOS lists both among the Chromium browsers it empties
  ...chromium('Google/Chrome Canary', CHROME),
  ...chromium('Google/Chrome Dev', CHROME),
  ...chromium('Chromium', []),
  ...chromium('Microsoft Edge', EDGE),
  ...chromium('BraveSoftware/Brave-Browser', BRAVE),
  ...chromium('Vivaldi', VIVALDI),
  ...chromium('com.operasoftware.Opera', OPERA, true),
  // Arc keeps Chromium's layout one level down, in User Data (cookies in Network/Cookies, as every Chromium now)
  ...chromium('Arc/User Data', ARC),
  { pattern: '~/Library/Application Support/Firefox/Profiles/*/{key4.db,key3.db,logins.json,logins-backup.json,cookies.sqlite,cert9.db}*', category: 'browser_secrets', authorized: FIREFOX },
  // Safari's jar only: every other app's CFNetwork jar there (<bundle id>.binarycookies) is read by that app itself,
  // and would put a credential read in the group of every Cocoa app that talks HTTP
  { pattern: '~/Library/Cookies/Cookies.binarycookies', category: 'browser_secrets', authorized: SAFARI },
  { pattern: '~/Library/Containers/com.apple.Safari/Data/Library/Cookies/**', category: 'browser_secrets', authorized: SAFARI },
  { pattern: '~/Library/Safari/{Form Values,LocalStorage,Databases}*', category: 'browser_secrets', authorized: SAFARI },
  { pattern: '~/Library/Safari/{LocalStorage,Databases}/**', category: 'browser_secrets', authorized: SAFARI },

  // private keys by any name ssh-keygen users give them (id_ed25519_github, id_rsa_work), not their public halves, nor
  // ~/.ssh/config (no secret; IDEs and SSH clients read it for its host list). Apple's ssh-add (`--apple-load-keychain`
  // in a shell's rc file) and ssh-keygen (git's SSH commit signing) read the keys as ssh does.
  { pattern: '~/.ssh/{id_*,*.pem,*.key,*.p12}', category: 'dev_credentials', authorized: apple('com.apple.openssh', 'com.apple.ssh', 'com.apple.ssh-agent', 'com.apple.ssh-add', 'com.apple.ssh-keygen'), except_suffixes: ['.pub'] },
  { pattern: '~/.aws/{credentials,config}', category: 'dev_credentials' },
  { pattern: '~/.aws/sso/cache/*', category: 'dev_credentials' },
  { pattern: '~/.config/gcloud/**', category: 'dev_credentials' },
  { pattern: '~/.azure/**', category: 'dev_credentials' },
  { pattern: '~/.kube/config', category: 'dev_credentials' },
  { pattern: '~/.docker/config.json', category: 'dev_credentials' },
  { pattern: '~/.gnupg/{private-keys-v1.d,secring.gpg}*', category: 'dev_credentials' },
  { pattern: '~/.gnupg/private-keys-v1.d/**', category: 'dev_credentials' },
  { pattern: '~/{.netrc,.git-credentials,.npmrc,.pypirc,.pgpass,.my.cnf}', category: 'dev_credentials' },
  { pattern: '~/.config/gh/hosts.yml', category: 'dev_credentials' },
  { pattern: '~/.terraform.d/credentials.tfrc.json', category: 'dev_credentials' },
  { pattern: '~/.vault-token', category: 'dev_credentials' },

  { pattern: '~/Library/Group Containers/2BUA8C4S2C.com.1password/**', category: 'password_manager', authorized: ONE_PASSWORD },
  { pattern: '~/Library/Containers/com.1password.1password/**', category: 'password_manager', authorized: ONE_PASSWORD },
  { pattern: '~/Library/Application Support/1Password/**', category: 'password_manager', authorized: ONE_PASSWORD },
  { pattern: '~/Library/Application Support/Bitwarden/**', category: 'password_manager', authorized: BITWARDEN },
  { pattern: '~/Library/Containers/com.bitwarden.desktop/**', category: 'password_manager', authorized: BITWARDEN },
  { pattern: '~/**/*.{kdbx,kdb,agilekeychain,opvault}', category: 'password_manager', authorized: KEEPASSXC },
  { pattern: '/Volumes/**/*.{kdbx,kdb,agilekeychain,opvault}', category: 'password_manager', authorized: KEEPASSXC },

  { pattern: '~/Library/Messages/**', category: 'messaging', authorized: apple('com.apple.MobileSMS', 'com.apple.imagent', 'com.apple.imdpersistence', 'com.apple.IMDPersistenceAgent', 'com.apple.imtransferservices') },
  { pattern: '~/Library/Application Support/Signal/**', category: 'messaging', authorized: vendor('U68MSDN6DR', 'org.whispersystems.signal-desktop') },
  { pattern: '~/Library/Group Containers/6N38VWS5BX.ru.keepcoder.Telegram/**', category: 'messaging', authorized: vendor('6N38VWS5BX', 'ru.keepcoder.Telegram') },
  { pattern: '~/Library/Application Support/Telegram Desktop/**', category: 'messaging', authorized: vendor('C67CF9S4VU', 'com.tdesktop.Telegram') },
  { pattern: '~/Library/Group Containers/group.net.whatsapp.WhatsApp.shared/**', category: 'messaging', authorized: vendor('57T9237FN3', 'net.whatsapp.WhatsApp') },
  { pattern: '~/Library/Application Support/Slack/{Cookies,storage,Local Storage}*', category: 'messaging', authorized: vendor('BQR82RBBHL', 'com.tinyspeck.slackmacgap') },
  // what those folders hold (Electron's Local Storage/leveldb/*.ldb: session tokens); `*` above stops at the folder
  { pattern: '~/Library/Application Support/Slack/{storage,Local Storage}/**', category: 'messaging', authorized: vendor('BQR82RBBHL', 'com.tinyspeck.slackmacgap') },
  { pattern: '~/Library/Containers/com.tinyspeck.slackmacgap/Data/Library/Application Support/Slack/{Cookies,storage,Local Storage}*', category: 'messaging', authorized: vendor('BQR82RBBHL', 'com.tinyspeck.slackmacgap') },
  { pattern: '~/Library/Containers/com.tinyspeck.slackmacgap/Data/Library/Application Support/Slack/{storage,Local Storage}/**', category: 'messaging', authorized: vendor('BQR82RBBHL', 'com.tinyspeck.slackmacgap') },
  { pattern: '~/Library/Application Support/discord/{Local Storage,Cookies}*', category: 'messaging', authorized: vendor('53Q6R32WPB', 'com.hnc.Discord') },
  // Discord's tokens are in Local Storage/leveldb/*.ldb, what Discord stealers read
  { pattern: '~/Library/Application Support/discord/Local Storage/**', category: 'messaging', authorized: vendor('53Q6R32WPB', 'com.hnc.Discord') },

  // tier 2 — user data
  { pattern: '~/Library/Mail/**', category: 'personal_data', authorized: [...apple('com.apple.mail', 'com.apple.MailServiceAgent', 'com.apple.email.maild'), ...INDEXERS_AND_BACKUP] },
  { pattern: '~/Library/Containers/com.apple.mail/**', category: 'personal_data', authorized: [...apple('com.apple.mail'), ...INDEXERS_AND_BACKUP] },
  { pattern: '~/Library/Group Containers/group.com.apple.notes/**', category: 'personal_data', authorized: [...apple('com.apple.Notes', 'com.apple.notes'), ...INDEXERS_AND_BACKUP] },
  { pattern: '~/Library/Containers/com.apple.Notes/**', category: 'personal_data', authorized: [...apple('com.apple.Notes'), ...INDEXERS_AND_BACKUP] },
  { pattern: '~/Library/Application Support/AddressBook/**', category: 'personal_data', authorized: [...apple('com.apple.AddressBook', 'com.apple.contactsd', 'com.apple.Contacts'), ...INDEXERS_AND_BACKUP] },
  { pattern: '~/Library/Calendars/**', category: 'personal_data', authorized: [...apple('com.apple.CalendarAgent', 'com.apple.iCal', 'com.apple.remindd'), ...INDEXERS_AND_BACKUP] },
  { pattern: '~/Library/Group Containers/group.com.apple.calendar/**', category: 'personal_data', authorized: [...apple('com.apple.CalendarAgent', 'com.apple.iCal'), ...INDEXERS_AND_BACKUP] },
  { pattern: '~/Pictures/*.photoslibrary/**', category: 'personal_data', authorized: [...apple('com.apple.Photos', 'com.apple.photolibraryd', 'com.apple.photoanalysisd', 'com.apple.mediaanalysisd', 'com.apple.cloudphotod'), ...INDEXERS_AND_BACKUP] },

  { pattern: '~/Library/Mobile Documents/**', category: 'documents', authorized: [...apple('com.apple.bird', 'com.apple.cloudd', 'com.apple.FileProvider', 'com.apple.fileproviderd'), ...INDEXERS_AND_BACKUP] },
  { pattern: '~/Library/CloudStorage/**', category: 'documents', authorized: [...apple('com.apple.FileProvider', 'com.apple.fileproviderd'), ...INDEXERS_AND_BACKUP] },
  { pattern: '~/{Documents,Desktop,Downloads}/**', category: 'documents', authorized: INDEXERS_AND_BACKUP },

  { pattern: '/Volumes/*/**', category: 'removable_volume', authorized: INDEXERS_AND_BACKUP },

  { pattern: '~/{.zsh_history,.bash_history,.sh_history,.history,.python_history,.node_repl_history,.psql_history,.mysql_history,.sqlite_history,.irb_history,.lesshst}', category: 'shell_history', authorized: apple('com.apple.zsh', 'com.apple.bash', 'com.apple.sh') },
  { pattern: '~/.zsh_sessions/**', category: 'shell_history', authorized: apple('com.apple.zsh') },
  { pattern: '~/.local/share/fish/fish_history', category: 'shell_history' },
];

// --- canonical paths -----------------------------------------------------------------------------------

/**
 * One spelling per file so prefixes match: `/private/{var,tmp,etc}` → `/{var,tmp,etc}` and the Data-volume
 * firmlink `/System/Volumes/Data/…` → `/…` (formats.md §5.5).
 */
export function canonicalPath(p: string): string {
  return withoutAliases(p, '/System/Volumes/Data/');
}

/** `p` without the `/private` and Data-volume prefixes (the latter spelled `systemData`, with its trailing `/`). */
function withoutAliases(p: string, systemData: string): string {
  if (p.charCodeAt(0) !== 47 /* / */) return p;
  // the Data volume holds /private too: /System/Volumes/Data/private/var/… is /private/var/… is /var/…
  if (p.startsWith(systemData)) p = p.slice(systemData.length - 1);
  if (p.startsWith('/private/')) {
    if (p.startsWith('/private/var/') || p.startsWith('/private/tmp/') || p.startsWith('/private/etc/') || p === '/private/var' || p === '/private/tmp' || p === '/private/etc') {
      return p.slice('/private'.length);
    }
  }
  return p;
}

/**
 * Every spelling a raw path may give a canonical path (canonicalPath's aliases put back): under `/private` for
 * `/var`, `/tmp` and `/etc`, and under the Data volume's `/System/Volumes/Data`. `systemData` spells that prefix as the
 * caller compares (`/system/volumes/data` for a folded path).
 */
export function aliasSpellings(canonical: string, systemData = '/System/Volumes/Data'): string[] {
  const underPrivate = /^\/(var|tmp|etc)(\/|$)/.test(canonical);
  const base = underPrivate ? [canonical, `/private${canonical}`] : [canonical];
  return [...base, ...base.map((x) => `${systemData}${x}`)];
}

/**
 * A path as the matcher compares it: lower case, then canonical (so `/PRIVATE/var/…` and `/System/volumes/Data/…`
 * fold too). Patterns are compiled in lower case.
 */
export function foldedPath(p: string): string {
  return withoutAliases(p.toLowerCase(), '/system/volumes/data/');
}

/** homeRelative of a folded path (foldedPath). */
function foldedHomeRelative(path: string): string | undefined {
  return underHome(path, '/users/', '/users/shared/');
}

// --- compiled matcher ----------------------------------------------------------------------------------

export interface SensitiveMatch {
  category: SensitiveCategory;
  tier: SensitiveTier;
  pattern: string;
  /** Readers that never produce events for this rule. */
  authorized: readonly AppMatcher[];
}

interface CompiledRule extends SensitiveMatch {
  order: number;
  regex: RegExp;
  /** The pattern's segments as matchBelow walks them (`**` first for a rule that matches anywhere). */
  segs: readonly DirSeg[];
  /** Some path can match: its last segment has a spelling that ends in none of except_suffixes. */
  viable: boolean;
  /**
   * matchBelow can credit a folder deeper than the rule's literal prefix (the trie node it hangs on): a segment
   * before the last is not `**`. The raw-line screen cannot judge such a folder by the rule's required endings.
   */
  creditsDeeper: boolean;
  /**
   * Every segment after the rule's literal prefix is `**` and the last one is: any folder deeper than that prefix holds
   * its files (credited by the trailing `**`). A rule neither this nor creditsDeeper credits no folder deeper than its
   * prefix (only inner `**`s reach it): matchBelow skips it there instead of walking a long path through its automaton.
   */
  tailOnly: boolean;
  /** The path must end with one of these for the regex to match (cheap pre-check); undefined: no such literal. */
  suffixes: readonly string[] | undefined;
  /** The rule's except_suffixes: a path ending in one does not match. */
  exceptSuffixes: readonly string[];
}

/** Read-only view of a trie node (SensitivePathMatcher.prefixTries). */
export interface PrefixNode {
  readonly children: ReadonlyMap<string, PrefixNode>;
  readonly rules: readonly { readonly suffixes: readonly string[] | undefined; readonly creditsDeeper: boolean }[];
}

interface TrieNode {
  children: Map<string, TrieNode>;
  /** Rules whose literal prefix ends at this node (checked with their regex). */
  rules: CompiledRule[];
  /** The first rule whose files lie strictly below the folder this node spells (matchBelow); set once built. */
  below: CompiledRule | undefined;
}

const newNode = (): TrieNode => ({ children: new Map(), rules: [], below: undefined });

/** The lower-order of two rules (undefined: none). */
const first = (a: CompiledRule | undefined, b: CompiledRule | undefined): CompiledRule | undefined => (!a || (b && b.order < a.order) ? b : a);

/**
 * Set each node's `below` (from its rules with more segments to match, and every rule deeper in the trie); returns the
 * first viable rule at or under the node.
 */
function settleBelow(node: TrieNode, depth: number): CompiledRule | undefined {
  let all: CompiledRule | undefined;
  let below: CompiledRule | undefined;
  for (const r of node.rules) {
    if (!r.viable) continue;
    all = first(all, r);
    if (r.segs.length > depth) below = first(below, r);
  }
  for (const child of node.children.values()) {
    const sub = settleBelow(child, depth + 1);
    all = first(all, sub);
    below = first(below, sub);
  }
  node.below = below;
  return all;
}

/** Anchoring of a pattern. */
type Root = 'home' | 'abs' | 'anywhere';

/**
 * The literal names a segment stands for: itself, or each alternative of a wildcard-free `{a,b}` segment
 * (so `~/{Documents,Desktop}/**` still gets trie branches); undefined for wildcards.
 */
function literalAlternatives(seg: string): string[] | undefined {
  if (/[*?[\]]/.test(seg)) return undefined;
  const open = seg.indexOf('{');
  if (open === -1) return seg.includes('}') ? undefined : [seg];
  const close = seg.indexOf('}', open);
  if (close === -1 || seg.indexOf('{', open + 1) !== -1 || seg.indexOf('}', close + 1) !== -1) return undefined;
  const head = seg.slice(0, open);
  const tail = seg.slice(close + 1);
  return seg
    .slice(open + 1, close)
    .split(',')
    .map((alt) => head + alt + tail);
}

/** Add a rule under every literal-prefix branch of its pattern. */
function insert(node: TrieNode, segments: string[], rule: CompiledRule): void {
  const alts = segments.length ? literalAlternatives(segments[0]!) : undefined;
  if (!alts) {
    node.rules.push(rule);
    return;
  }
  for (const name of alts) {
    let next = node.children.get(name);
    if (!next) node.children.set(name, (next = newNode()));
    insert(next, segments.slice(1), rule);
  }
}

function segmentRegex(seg: string): string {
  let out = '';
  let inBraces = false;
  for (const ch of seg) {
    if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else if (ch === '{' && !inBraces) {
      out += '(?:';
      inBraces = true;
    } else if (ch === '}' && inBraces) {
      out += ')';
      inBraces = false;
    } else if (ch === ',' && inBraces) out += '|';
    else out += /[\\^$.|+()[\]{}]/.test(ch) ? `\\${ch}` : ch;
  }
  if (inBraces) throw new Error(`unbalanced { in pattern segment "${seg}"`);
  return out;
}

/**
 * Literal endings a path must have to match a last segment like `*.kdbx` or `*.{kdbx,kdb}`. The home-root
 * rule for password databases (any depth, `*.{kdbx,…}`) is tried on every path under a home (build
 * trees, caches): an endsWith check turns almost all of those regex runs into a few character compares.
 */
function requiredSuffixes(last: string): string[] | undefined {
  const m = /^\*([^*?{}]*)(?:\{([^*?{}]*)\})?$/.exec(last);
  if (!m) return undefined;
  const suffixes = m[2] === undefined ? [m[1]!] : m[2].split(',').map((alt) => m[1]! + alt);
  return suffixes.some((x) => x === '') ? undefined : suffixes;
}

function passesSuffix(rule: CompiledRule, path: string): boolean {
  const except = rule.exceptSuffixes;
  for (let i = 0; i < except.length; i++) if (path.endsWith(except[i]!)) return false;
  const suffixes = rule.suffixes;
  if (!suffixes) return true;
  for (let i = 0; i < suffixes.length; i++) if (path.endsWith(suffixes[i]!)) return true;
  return false;
}

/** Regex over the path relative to the root (home-relative paths keep their leading `/`). */
function segmentsRegex(segments: string[]): RegExp {
  let src = '^';
  segments.forEach((seg, i) => {
    if (seg === '**') src += i === segments.length - 1 ? '/.+' : '(?:/[^/]+)*';
    else src += `/${segmentRegex(seg)}`;
  });
  return new RegExp(`${src}$`);
}

// --- folders above a rule's files (matchBelow) -------------------------------------------------------------

/** `**`: any number of segments. */
const GLOBSTAR = 0;
/** A lone `*` (or `***`): any one name. */
const ANY_NAME = 1;
/** A segment with literal text (`Keychains`, `{a,b}`, `*.photoslibrary`, `{Login Data,…}*`): it names its folder. */
const NAMED = 2;

/** One pattern segment as matchBelow walks a folder's segments along it. */
interface DirSeg {
  kind: typeof GLOBSTAR | typeof ANY_NAME | typeof NAMED;
  /** NAMED: the segment over one name, as the rule's regex takes it. */
  re: RegExp | undefined;
}

function dirSeg(seg: string): DirSeg {
  if (seg === '**') return { kind: GLOBSTAR, re: undefined };
  if (/^\*+$/.test(seg)) return { kind: ANY_NAME, re: undefined };
  return { kind: NAMED, re: new RegExp(`^${segmentRegex(seg)}$`) };
}

// How the folder's last segment was matched (bits of one matchBelow state):
/** by a NAMED segment, or no segment yet (the anchor: a home, `/`) */
const BY_NAME = 1;
/** by a lone `*` right under a named one (a profile folder: `Chrome/*`) */
const BY_ONE_STAR = 2;
/** only by an inner `**` or a second lone `*` in a row: any folder could be there */
const BY_WILDCARDS = 4;
/** by a trailing `**`: every path below the folder matches */
const BY_TAIL = 8;
const CREDITED = BY_NAME | BY_ONE_STAR | BY_TAIL;

/** Add the states `**` reaches without consuming a segment (not past a trailing `**`, which takes at least one). */
function closeOverGlobstars(segs: readonly DirSeg[], states: Uint8Array, from: number): void {
  for (let j = from; j < segs.length - 1; j++) if (states[j] && segs[j]!.kind === GLOBSTAR) states[j + 1]! |= states[j]!;
}

/**
 * Whether the folder whose remaining segments are those of `path` from index `pos` (each `/`-separated; none when `pos`
 * is past the end; the ones before matched segs[…from) literally) leads to the rule's files: its segments match
 * segs[from…j) for some j < segs.length (so a path strictly below can match the rest), and the match credits its last
 * segment (CREDITED). Reads the path in place, as `walk` does: it can be 16 KB of attacker-chosen segments.
 */
function leadsBelow(segs: readonly DirSeg[], from: number, path: string, pos: number): boolean {
  const m = segs.length;
  let states = new Uint8Array(m);
  let next = new Uint8Array(m);
  states[from] = BY_NAME;
  closeOverGlobstars(segs, states, from);
  while (pos <= path.length) {
    let end = path.indexOf('/', pos);
    if (end === -1) end = path.length;
    let name: string | undefined;
    next.fill(0);
    let any = false;
    for (let j = from; j < m; j++) {
      const how = states[j]!;
      if (!how) continue;
      const seg = segs[j]!;
      if (seg.kind === GLOBSTAR) {
        // the regex: an inner `**` is `(?:/[^/]+)*`, a trailing one `/.+`
        if (j === m - 1) next[j]! |= BY_TAIL;
        else if (end > pos) next[j]! |= BY_WILDCARDS;
        else continue;
      } else if (j + 1 >= m) continue; // the folder would be the file itself, not above it
      else if (seg.kind === ANY_NAME) {
        // a lone `*` names a folder only right under a named segment and not as the first of a run (`Application
        // Support/*\/*\/Local Extension Settings`: any app's folder there; `Chrome/*\/Cookies`: a profile)
        const one = how & BY_NAME && segs[j + 1]!.kind !== ANY_NAME;
        next[j + 1]! |= (one ? BY_ONE_STAR : 0) | (how & ~BY_NAME || (how & BY_NAME && !one) ? BY_WILDCARDS : 0);
      } else if (seg.re!.test((name ??= path.slice(pos, end)))) next[j + 1]! |= BY_NAME;
      else continue;
      any = true;
    }
    if (!any) return false;
    closeOverGlobstars(segs, next, from);
    const was = states;
    states = next;
    next = was;
    pos = end + 1;
  }
  for (let j = from; j < m; j++) if (states[j]! & CREDITED) return true;
  return false;
}

/**
 * Whether some name matching the last segment `last` ends in none of `except` (lower case): each `{…}` alternative
 * spelled with its `*` and `?` filled by a character no except suffix holds ends in one only when the literal text after
 * its last wildcard does.
 */
function someNameAvoids(last: string, except: readonly string[]): boolean {
  if (!except.length) return true;
  if (except.includes('')) return false;
  if (last === '**') return true;
  let spellings = [''];
  for (let i = 0; i < last.length; i++) {
    const ch = last[i]!;
    const close = ch === '{' ? last.indexOf('}', i) : -1;
    if (close === -1) {
      spellings = spellings.map((x) => x + ch);
      continue;
    }
    const alts = last.slice(i + 1, close).split(',');
    spellings = spellings.flatMap((x) => alts.map((a) => x + a));
    i = close;
  }
  return spellings.some((x) => {
    const tail = x.slice(Math.max(x.lastIndexOf('*'), x.lastIndexOf('?')) + 1);
    return !except.some((e) => tail.endsWith(e));
  });
}

/** Number of leading segments that are literal names (or wildcard-free `{a,b}`): the rule's depth in its trie. */
function literalPrefixLength(segments: readonly string[]): number {
  let n = 0;
  while (n < segments.length && literalAlternatives(segments[n]!)) n++;
  return n;
}

/**
 * A folder's part under a home with its leading `/` (`''` for the home itself: no segments), as foldedHomeRelative;
 * undefined outside homes. `path` is folded, canonical, without a trailing separator.
 */
function homeRelativeFolder(path: string): string | undefined {
  // the folder's own path with a separator after it: a home itself then has a part `/`
  return foldedHomeRelative(`${path}/`)?.slice(0, -1);
}

function splitPattern(pattern: string): { root: Root; segments: string[] } {
  let rest: string;
  let root: Root;
  if (pattern === '~' || pattern.startsWith('~/')) {
    root = 'home';
    rest = pattern.slice(1);
  } else if (pattern.startsWith('/')) {
    root = 'abs';
    rest = pattern;
  } else {
    root = 'anywhere';
    rest = `/${pattern.replace(/^\*\*\//, '')}`;
  }
  const segments = rest.split('/').filter((s) => s.length > 0);
  if (!segments.length) throw new Error(`pattern "${pattern}" names no file`);
  return { root, segments };
}

export interface SensitiveTaxonomyConfig {
  replace_defaults: boolean;
  add: readonly SensitiveRule[];
}

/**
 * Compiled taxonomy. Matching walks a trie of the literal leading segments (so a path under a folder no
 * rule names costs a couple of Map lookups), then checks the few candidate rules with their regex.
 */
export class SensitivePathMatcher {
  private readonly homeTrie = newNode();
  private readonly absTrie = newNode();
  /** Rules without a literal prefix (`*.kdbx`): tested against every path, so keep them few. */
  private readonly anywhere: CompiledRule[] = [];
  readonly rules: readonly CompiledRule[];
  /** The first rule some path can match (every path lies below `/`). */
  private readonly firstViable: CompiledRule | undefined;

  constructor(rules: readonly SensitiveRule[]) {
    const compiled: CompiledRule[] = [];
    rules.forEach((rule, order) => {
      const { root, segments } = splitPattern(rule.pattern.toLowerCase());
      const matched = root === 'anywhere' ? ['**', ...segments] : segments;
      const exceptSuffixes = (rule.except_suffixes ?? []).map((x) => x.toLowerCase());
      const depth = root === 'anywhere' ? 0 : literalPrefixLength(segments);
      const c: CompiledRule = {
        order,
        category: rule.category,
        tier: CATEGORY_TIER[rule.category],
        pattern: rule.pattern,
        authorized: rule.authorized ?? [],
        regex: segmentsRegex(matched),
        segs: matched.map(dirSeg),
        viable: someNameAvoids(segments[segments.length - 1]!, exceptSuffixes),
        creditsDeeper: matched.slice(depth, -1).some((seg) => seg !== '**'),
        tailOnly: matched.length > depth && matched.slice(depth).every((seg) => seg === '**'),
        suffixes: requiredSuffixes(segments[segments.length - 1]!),
        exceptSuffixes,
      };
      compiled.push(c);
      if (root === 'anywhere') {
        this.anywhere.push(c);
        return;
      }
      insert(root === 'home' ? this.homeTrie : this.absTrie, segments, c);
    });
    this.rules = compiled;
    settleBelow(this.homeTrie, 0);
    settleBelow(this.absTrie, 0);
    this.firstViable = compiled.find((r) => r.viable);
  }

  /** Built-ins plus config (`taxonomy.add` first, so additions can override a built-in category). */
  static fromConfig(taxonomy: SensitiveTaxonomyConfig): SensitivePathMatcher {
    return new SensitivePathMatcher(taxonomy.replace_defaults ? [...taxonomy.add] : [...taxonomy.add, ...DEFAULT_SENSITIVE_RULES]);
  }

  /**
   * The literal-prefix tries `match` walks (home-relative and absolute), read-only, for prefilters that
   * screen raw paths without allocating: a path can only match at a node its segments reach whose rules
   * accept it (a rule with `suffixes` needs one of those endings). undefined when some rule matches
   * anywhere (no prefix to screen by).
   */
  prefixTries(): { home: PrefixNode; abs: PrefixNode } | undefined {
    if (this.anywhere.length) return undefined;
    return { home: this.homeTrie, abs: this.absTrie };
  }

  /** Classify an absolute path (in any case; canonical or not); undefined when no rule matches. */
  match(original: string): SensitiveMatch | undefined {
    let best: CompiledRule | undefined;
    const path = foldedPath(original);
    const rel = foldedHomeRelative(path);
    if (rel !== undefined) best = walk(this.homeTrie, rel, best);
    best = walk(this.absTrie, path, best);
    for (const r of this.anywhere) {
      if (best && best.order < r.order) break;
      if (passesSuffix(r, path) && r.regex.test(path)) {
        best = r;
        break;
      }
    }
    return best;
  }

  /**
   * The rule whose files lie in the folder `dirPath` (absolute; any case; canonical or not), for a folder cloned or
   * moved whole: the first rule, in `match`'s order, that some path strictly below it matches and whose pattern names
   * the folder's last segment (see the top of this file). `~/.ssh`, `~/Library/Keychains`, a Chrome profile, `/` name
   * a place; `~/Projects` (reached only by the `**` of `~/**\/*.kdbx`), `Application Support/Code/Cache` (only by the
   * two lone `*` of the wallet-extension rule), a profile's `Extensions` (no rule's path goes through it) do not.
   * undefined when none. Pure; meant for the few folders `match` did not match.
   */
  matchBelow(dirPath: string): SensitiveMatch | undefined {
    let end = dirPath.length;
    while (end > 1 && dirPath.charCodeAt(end - 1) === 47 /* / */) end--;
    const lower = (end === dirPath.length ? dirPath : dirPath.slice(0, end)).toLowerCase();
    if (lower.charCodeAt(0) !== 47) return undefined;
    // the Data volume's root (and what leads to it) holds everything, as `/` does; not the Data volume's own
    // System folder (/System/Volumes/Data/System, which canonicalPath would spell /System)
    if (lower === '/' || lower === '/system' || lower === '/system/volumes' || lower === '/system/volumes/data') return this.firstViable;
    const path = foldedPath(lower);
    let best = this.below(path, undefined);
    // what /private holds is also spelled /var, /tmp, /etc (and /var holds root's home)
    if (path === '/private') for (const alias of ['/var', '/tmp', '/etc']) best = this.below(alias, best);
    return best;
  }

  /** matchBelow of a folded, canonical path other than `/`, or `best` when that comes first. */
  private below(path: string, best: CompiledRule | undefined): CompiledRule | undefined {
    // /Users and /var hold homes; a home itself is the anchor of every `~/` rule
    if (path === '/users' || path === '/var') best = first(best, this.homeTrie.below);
    else {
      const rel = homeRelativeFolder(path);
      if (rel !== undefined) best = walkBelow(this.homeTrie, rel, best);
    }
    best = walkBelow(this.absTrie, path, best);
    for (const r of this.anywhere) {
      if (best && best.order < r.order) break;
      if (r.viable && (r.tailOnly || (r.creditsDeeper && leadsBelow(r.segs, 0, path, 1)))) return r;
    }
    return best;
  }

  /** True when the reader (by code identity) is authorized for the matched rule. */
  static isAuthorized(match: SensitiveMatch, teamId: string | null, signingId: string | null, platformBinary: boolean): boolean {
    if (!match.authorized.length || !signingId) return false;
    return matchesApp(match.authorized, teamKey(teamId, platformBinary), signingId) !== undefined;
  }
}

/**
 * The part of a path under a user home, with its leading `/` (`/Users/dana/.ssh/id` → `/.ssh/id`), or
 * undefined outside homes. `/Users/Shared` is not a home.
 */
export function homeRelative(path: string): string | undefined {
  return underHome(path, '/Users/', '/Users/Shared/');
}

/** homeRelative with the spelling of `/Users/` and `/Users/Shared/` given (both 7 and 14 characters long). */
function underHome(path: string, users: string, shared: string): string | undefined {
  if (path.startsWith(users)) {
    const end = path.indexOf('/', 7);
    if (end === -1) return undefined;
    if (end === 7 || (end === 13 && path.startsWith(shared))) return undefined;
    return path.slice(end);
  }
  if (path.startsWith('/var/root/')) return path.slice('/var/root'.length);
  return undefined;
}

/**
 * matchBelow along the trie: rules hanging on the nodes the folder's segments spell are checked on the rest of its
 * segments (leadsBelow); where the folder ends on a node, every rule under it qualifies (the node's `below`).
 */
function walkBelow(root: TrieNode, path: string, best: CompiledRule | undefined): CompiledRule | undefined {
  // `path`: `/`-led segments ('' for none), read in place
  let node = root;
  let pos = 1;
  for (let k = 0; ; k++) {
    if (pos > path.length) return first(best, node.below);
    for (const r of node.rules) {
      // a rule whose segments past its prefix are only inner `**`s and a file name credits no folder deeper than the
      // prefix (skipped); one that ends in `**` after only `**`s credits every one
      if (r.viable && (!best || r.order < best.order) && r.segs.length > k && (r.tailOnly || (r.creditsDeeper && leadsBelow(r.segs, k, path, pos)))) best = r;
    }
    let end = path.indexOf('/', pos);
    if (end === -1) end = path.length;
    const next = node.children.get(path.slice(pos, end));
    if (!next) return best;
    node = next;
    pos = end + 1;
  }
}

/** Walk the literal-prefix trie along `path` (leading `/`), returning the best (lowest-order) matching rule. */
function walk(root: TrieNode, path: string, best: CompiledRule | undefined): CompiledRule | undefined {
  let node: TrieNode | undefined = root;
  let pos = 1;
  while (node) {
    for (const r of node.rules) {
      if ((!best || r.order < best.order) && passesSuffix(r, path) && r.regex.test(path)) best = r;
    }
    if (pos >= path.length) break;
    let end = path.indexOf('/', pos);
    if (end === -1) end = path.length;
    node = node.children.get(path.slice(pos, end));
    pos = end + 1;
  }
  return best;
}
