import { describe, expect, it } from 'vitest';
import { canonicalPath, CATEGORY_TIER, DEFAULT_SENSITIVE_RULES, homeRelative, SensitivePathMatcher } from './sensitive-paths.js';

const defaults = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] });

describe('canonicalPath', () => {
  it.each([
    ['/private/tmp/docs.zip', '/tmp/docs.zip'],
    ['/private/var/folders/x8/abc/T/a', '/var/folders/x8/abc/T/a'],
    ['/private/etc/hosts', '/etc/hosts'],
    ['/System/Volumes/Data/Users/dana/Documents/a.pdf', '/Users/dana/Documents/a.pdf'],
    ['/private/variable/x', '/private/variable/x'],
    ['/tmp/x', '/tmp/x'],
    ['relative/x', 'relative/x'],
  ])('%s → %s', (input, out) => expect(canonicalPath(input)).toBe(out));
});

describe('homeRelative', () => {
  it.each([
    ['/Users/dana/.ssh/id_rsa', '/.ssh/id_rsa'],
    ['/var/root/.zsh_history', '/.zsh_history'],
    ['/Users/Shared/Documents/x', undefined],
    ['/Users/dana', undefined],
    ['/Users//x', undefined],
    ['/usr/lib/x', undefined],
  ])('%s → %s', (input, out) => expect(homeRelative(input)).toBe(out));
});

describe('default taxonomy', () => {
  it.each([
    ['/Users/dana/Library/Keychains/login.keychain-db', 'keychain'],
    ['/Users/dana/Library/Keychains/3F2A/keychain-2.db', 'keychain'],
    ['/Library/Keychains/System.keychain', 'keychain'],
    ['/var/root/Library/Keychains/login.keychain-db', 'keychain'],
    ['/Users/dana/Library/Application Support/Google/Chrome/Default/Login Data', 'browser_secrets'],
    ['/Users/dana/Library/Application Support/Google/Chrome/Profile 3/Login Data-journal', 'browser_secrets'],
    ['/Users/dana/Library/Application Support/Google/Chrome/Default/Network/Cookies', 'browser_secrets'],
    ['/Users/dana/Library/Application Support/Google/Chrome/Local State', 'browser_secrets'],
    ['/Users/dana/Library/Application Support/Firefox/Profiles/abcd.default-release/key4.db', 'browser_secrets'],
    ['/Users/dana/Library/Application Support/Firefox/Profiles/abcd.default-release/logins.json', 'browser_secrets'],
    ['/Users/dana/Library/Application Support/BraveSoftware/Brave-Browser/Default/Cookies', 'browser_secrets'],
    ['/Users/dana/Library/Application Support/Google/Chrome/Default/Local Extension Settings/nkbihfbeogaeaoehlefnkodbefgpgknn/000003.log', 'crypto_wallet'],
    ['/Users/dana/Library/Application Support/Exodus/exodus.wallet/seed.seco', 'crypto_wallet'],
    ['/Users/dana/.ssh/id_ed25519', 'dev_credentials'],
    ['/Users/dana/.aws/credentials', 'dev_credentials'],
    ['/Users/dana/.config/gcloud/application_default_credentials.json', 'dev_credentials'],
    ['/Users/dana/.netrc', 'dev_credentials'],
    ['/Users/dana/Library/Group Containers/2BUA8C4S2C.com.1password/Library/Application Support/1Password/Data/1password.sqlite', 'password_manager'],
    ['/Volumes/USB/vault.kdbx', 'password_manager'],
    ['/Users/dana/Library/Messages/chat.db', 'messaging'],
    ['/Users/dana/Library/Application Support/Signal/sql/db.sqlite', 'messaging'],
    // Electron session tokens (what Discord and Slack stealers read), inside the folders, not only the folders
    ['/Users/dana/Library/Application Support/discord/Local Storage/leveldb/000005.ldb', 'messaging'],
    ['/Users/dana/Library/Application Support/discord/Local Storage/leveldb/000004.log', 'messaging'],
    ['/Users/dana/Library/Application Support/discord/Cookies', 'messaging'],
    ['/Users/dana/Library/Application Support/Slack/Local Storage/leveldb/000003.log', 'messaging'],
    ['/Users/dana/Library/Application Support/Slack/storage/root-state.json', 'messaging'],
    ['/Users/dana/Library/Containers/com.tinyspeck.slackmacgap/Data/Library/Application Support/Slack/Local Storage/leveldb/000003.log', 'messaging'],
    ['/Users/dana/Library/Application Support/Telegram Desktop/tdata/key_datas', 'messaging'],
    ['/Users/dana/Library/Cookies/Cookies.binarycookies', 'browser_secrets'],
    ['/Users/dana/Library/Safari/LocalStorage/https_mail.example.com_0.localstorage', 'browser_secrets'],
    ['/Users/dana/Library/Safari/Databases/___IndexedDB/https_app.example.com_0/IndexedDB.sqlite3', 'browser_secrets'],
    ['/Users/dana/Library/Mail/V10/MailData/Envelope Index', 'personal_data'],
    ['/Users/dana/Pictures/Photos Library.photoslibrary/database/Photos.sqlite', 'personal_data'],
    ['/Users/dana/Library/Application Support/AddressBook/AddressBook-v22.abcddb', 'personal_data'],
    ['/Users/dana/Documents/Q3 report.pdf', 'documents'],
    ['/Users/dana/Desktop/todo.txt', 'documents'],
    ['/Users/dana/Downloads/a/b/c.zip', 'documents'],
    ['/Users/dana/Library/Mobile Documents/com~apple~CloudDocs/plan.key', 'documents'],
    ['/Users/dana/Library/CloudStorage/OneDrive-Contoso/budget.xlsx', 'documents'],
    ['/Volumes/KINGSTON/copy.pdf', 'removable_volume'],
    ['/Users/dana/.zsh_history', 'shell_history'],
    ['/Users/dana/.zsh_sessions/4F1C.history', 'shell_history'],
  ])('%s is %s', (path, category) => {
    const m = defaults.match(path);
    expect(m?.category).toBe(category);
    expect(m?.tier).toBe(CATEGORY_TIER[category as keyof typeof CATEGORY_TIER]);
  });

  it.each([
    '/Users/dana/Documents', // the folder itself, not its content
    '/Users/Shared/Documents/x.pdf', // /Users/Shared is not a home
    '/Users/dana/src/widget/main.c',
    '/Users/dana/Library/Caches/com.apple.Safari/Cache.db',
    '/Users/dana/Library/Application Support/Google/Chrome/Default/History', // not a secret store
    '/Users/dana/Library/Application Support/Code/User/settings.json',
    '/Users/dana/.ssh/known_hosts',
    '/Users/dana/.ssh/id_ed25519.pub',
    '/Users/dana/.ssh/config', // no secret: every SSH client and IDE reads it for its host list
    '/Users/dana/Library/Cookies/com.spotify.client.binarycookies', // an app's own jar, read by that app
    '/usr/lib/libSystem.B.dylib',
    '/System/Library/Frameworks/Foundation.framework/Foundation',
    '/Volumes', // no volume named
    '/tmp/docs.zip',
  ])('%s is not sensitive', (path) => expect(defaults.match(path)).toBeUndefined());

  it('tier 1 is exactly the six credential-store categories', () => {
    const tier1 = Object.entries(CATEGORY_TIER)
      .filter(([, t]) => t === 1)
      .map(([c]) => c)
      .sort();
    expect(tier1).toEqual(['browser_secrets', 'crypto_wallet', 'dev_credentials', 'keychain', 'messaging', 'password_manager']);
  });

  it('every built-in rule compiles and matches an example of itself', () => {
    // guards against a typo that makes a rule unreachable
    for (const rule of DEFAULT_SENSITIVE_RULES) {
      const example = rule.pattern
        .replace(/^~/, '/Users/dana')
        .replace(/^(?!\/)/, '/Volumes/X/')
        .replace(/\{([^,}]+)[^}]*\}/g, '$1')
        .replace(/\/\*\*$/, '/f')
        .replace(/\*\*/g, 'a/b')
        .replace(/\*/g, 'x')
        .replace(/\?/g, 'q');
      expect(defaults.match(example), `${rule.pattern} → ${example}`).toBeDefined();
    }
  });
});

describe('case (macOS volumes are case-insensitive by default)', () => {
  it.each([
    ['/Users/dana/.SSH/ID_RSA', 'dev_credentials'],
    ['/users/dana/Library/KEYCHAINS/login.keychain-db', 'keychain'],
    ['/PRIVATE/var/root/.ssh/id_ed25519', 'dev_credentials'],
    ['/System/volumes/DATA/Users/dana/Library/Keychains/login.keychain-db', 'keychain'],
    ['/Users/dana/Vault/Passwords.KDBX', 'password_manager'],
  ])('%s is %s', (path, category) => expect(defaults.match(path)?.category).toBe(category));

  it('folds the exceptions and the not-a-home rules too; a pattern in any case matches any case', () => {
    expect(defaults.match('/Users/dana/.ssh/id_rsa.PUB')).toBeUndefined();
    expect(defaults.match('/users/SHARED/.ssh/id_rsa')).toBeUndefined();
    const custom = SensitivePathMatcher.fromConfig({ replace_defaults: true, add: [{ pattern: '/Opt/Corp/SECRETS/*.JSON', category: 'dev_credentials' }] });
    expect(custom.match('/opt/corp/secrets/db.json')?.pattern).toBe('/Opt/Corp/SECRETS/*.JSON');
  });
});

describe('authorized readers', () => {
  it('securityd (platform) may read keychains; an adhoc binary claiming its signing id may not', () => {
    const m = defaults.match('/Users/dana/Library/Keychains/login.keychain-db')!;
    expect(SensitivePathMatcher.isAuthorized(m, null, 'com.apple.securityd', true)).toBe(true);
    expect(SensitivePathMatcher.isAuthorized(m, null, 'com.apple.securityd', false)).toBe(false);
    expect(SensitivePathMatcher.isAuthorized(m, null, 'com.apple.sh', true)).toBe(false);
  });
  it('the owning browser may read its own secrets, not another browser', () => {
    const chrome = defaults.match('/Users/dana/Library/Application Support/Google/Chrome/Default/Login Data')!;
    expect(SensitivePathMatcher.isAuthorized(chrome, 'EQHXZ8M8AV', 'com.google.Chrome.helper', false)).toBe(true);
    expect(SensitivePathMatcher.isAuthorized(chrome, 'EQHXZ8M8AV', 'com.google.Chromeevil', false)).toBe(false);
    expect(SensitivePathMatcher.isAuthorized(chrome, '43AQ936H96', 'org.mozilla.firefox', false)).toBe(false);
  });
  it('every browser build the browser allowlist names may read its own profile secrets (Arc helpers, Firefox Developer Edition, Nightly)', () => {
    const arc = defaults.match('/Users/dana/Library/Application Support/Arc/User Data/Default/Network/Cookies')!;
    expect(SensitivePathMatcher.isAuthorized(arc, 'S6N382Y83G', 'company.thebrowser.browser.helper', false)).toBe(true);
    expect(SensitivePathMatcher.isAuthorized(arc, 'S6N382Y83G', 'company.thebrowser.Browser', false)).toBe(true);
    const firefox = defaults.match('/Users/dana/Library/Application Support/Firefox/Profiles/ab12.dev-edition-default/logins.json')!;
    expect(SensitivePathMatcher.isAuthorized(firefox, '43AQ936H96', 'org.mozilla.firefoxdeveloperedition', false)).toBe(true);
    expect(SensitivePathMatcher.isAuthorized(firefox, '43AQ936H96', 'org.mozilla.nightly', false)).toBe(true);
    expect(SensitivePathMatcher.isAuthorized(firefox, '43AQ936H96', 'org.mozilla.firefoxevil', false)).toBe(false);
  });
  it('mdworker and QuickLook may read documents', () => {
    const docs = defaults.match('/Users/dana/Documents/a.pdf')!;
    expect(SensitivePathMatcher.isAuthorized(docs, null, 'com.apple.mdworker_shared', true)).toBe(true);
    expect(SensitivePathMatcher.isAuthorized(docs, null, 'com.apple.quicklook.ThumbnailsAgent', true)).toBe(true);
    expect(SensitivePathMatcher.isAuthorized(docs, null, 'com.apple.ditto', true)).toBe(false);
  });
  it('Time Machine may read the user data it backs up; code only claiming its signing id may not', () => {
    for (const path of ['/Users/dana/Documents/a.pdf', '/Users/dana/Library/Mail/V10/MailData/Envelope Index', '/Volumes/KINGSTON/copy.pdf']) {
      const m = defaults.match(path)!;
      expect(SensitivePathMatcher.isAuthorized(m, null, 'com.apple.backupd', true), path).toBe(true);
      expect(SensitivePathMatcher.isAuthorized(m, null, 'com.apple.backupd', false), path).toBe(false);
    }
  });
});

describe('config taxonomy', () => {
  it('additions come first and can re-categorise a built-in path', () => {
    const m = SensitivePathMatcher.fromConfig({
      replace_defaults: false,
      add: [
        { pattern: '~/Documents/Finance/**', category: 'personal_data' },
        { pattern: '/opt/corp/secrets/*.json', category: 'dev_credentials', authorized: [{ team_id: 'ABCDE12345', signing_id_prefix: 'com.corp.agent' }] },
      ],
    });
    expect(m.match('/Users/dana/Documents/Finance/2025/q1.xlsx')?.category).toBe('personal_data');
    expect(m.match('/Users/dana/Documents/other.txt')?.category).toBe('documents');
    const corp = m.match('/opt/corp/secrets/db.json')!;
    expect(corp).toMatchObject({ category: 'dev_credentials', tier: 1 });
    expect(SensitivePathMatcher.isAuthorized(corp, 'ABCDE12345', 'com.corp.agent', false)).toBe(true);
  });
  it('replace_defaults drops the built-ins', () => {
    const m = SensitivePathMatcher.fromConfig({ replace_defaults: true, add: [{ pattern: '*.secret', category: 'dev_credentials' }] });
    expect(m.match('/Users/dana/Library/Keychains/login.keychain-db')).toBeUndefined();
    expect(m.match('/srv/a/b/x.secret')?.category).toBe('dev_credentials');
  });
  it('the literal-ending pre-check agrees with the pattern (suffix sets, empty alternatives, no suffix)', () => {
    const m = new SensitivePathMatcher([
      { pattern: '~/**/*.{kdbx,kdb}', category: 'password_manager' },
      { pattern: '~/notes/*{.md,}', category: 'documents' },
      { pattern: '/srv/**/key*', category: 'dev_credentials' },
      { pattern: '*x.pem', category: 'dev_credentials' },
    ]);
    expect(m.match('/Users/dana/a/b/vault.kdbx')?.category).toBe('password_manager');
    expect(m.match('/Users/dana/a/b/vault.kdb')?.category).toBe('password_manager');
    expect(m.match('/Users/dana/a/b/vault.kdbx.bak')).toBeUndefined();
    expect(m.match('/Users/dana/a/b/kdb')).toBeUndefined();
    expect(m.match('/Users/dana/notes/plain')?.category).toBe('documents'); // empty alternative: no required ending
    expect(m.match('/Users/dana/notes/a.md')?.category).toBe('documents');
    expect(m.match('/srv/a/keyring')?.category).toBe('dev_credentials');
    expect(m.match('/opt/boxx.pem')?.category).toBe('dev_credentials');
    expect(m.match('/opt/bo.pem')).toBeUndefined();
  });
  it('rejects a pattern with unbalanced braces', () => {
    expect(() => new SensitivePathMatcher([{ pattern: '~/{a,b/x', category: 'documents' }])).toThrow(/unbalanced/);
  });
});
