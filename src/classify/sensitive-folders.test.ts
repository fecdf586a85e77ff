/**
 * SensitivePathMatcher.matchBelow: the rule whose files lie in a folder cloned or moved whole (clonefile(2) of
 * ~/Library/Keychains, `mv ~/.aws /tmp/x`), where no rule matches the folder's own path.
 */
import { describe, expect, it } from 'vitest';
import { SensitivePathMatcher } from './sensitive-paths.js';

const defaults = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] });
const H = '/Users/dana';
const AS = `${H}/Library/Application Support`;
const CHROME_SECRETS = '~/Library/Application Support/Google/Chrome/*/{Login Data,Login Data For Account,Cookies,Web Data,Network}*';

describe('a folder that holds some rule\'s files', () => {
  it.each([
    // the folder a `/**` rule names (the rule itself needs one more segment)
    [`${H}/Library/Keychains`, 'keychain', '~/Library/Keychains/**'],
    ['/var/root/Library/Keychains', 'keychain', '~/Library/Keychains/**'],
    ['/Library/Keychains', 'keychain', '/Library/Keychains/**'],
    [`${AS}/discord/Local Storage`, 'messaging', '~/Library/Application Support/discord/Local Storage/**'],
    // a profile folder: the lone `*` right under Chrome/ (not the wallet rules' `*/*/*`, which come first)
    [`${AS}/Google/Chrome/Default`, 'browser_secrets', CHROME_SECRETS],
    [`${AS}/Google/Chrome/Profile 3`, 'browser_secrets', CHROME_SECRETS],
    [`${AS}/Google/Chrome`, 'browser_secrets', CHROME_SECRETS],
    [`${AS}/Google/Chrome/Default/Network`, 'browser_secrets', '~/Library/Application Support/Google/Chrome/*/Network/Cookies*'],
    [`${AS}/Firefox/Profiles/x.default-release`, 'browser_secrets', '~/Library/Application Support/Firefox/Profiles/*/{key4.db,key3.db,logins.json,logins-backup.json,cookies.sqlite,cert9.db}*'],
    // a wallet extension's folder (what wallet stealers copy), reached through the profile
    [`${AS}/Google/Chrome/Default/Local Extension Settings`, 'crypto_wallet', undefined],
    [`${AS}/Google/Chrome/Default/Local Extension Settings/nkbihfbeogaeaoehlefnkodbefgpgknn`, 'crypto_wallet', undefined],
    [`${H}/.ssh`, 'dev_credentials', '~/.ssh/{id_*,*.pem,*.key,*.p12}'],
    [`${H}/.aws`, 'dev_credentials', '~/.aws/{credentials,config}'],
    [`${H}/.aws/sso/cache`, 'dev_credentials', '~/.aws/sso/cache/*'],
    [`${H}/Pictures/Photos Library.photoslibrary`, 'personal_data', '~/Pictures/*.photoslibrary/**'],
    [`${H}/Documents`, 'documents', '~/{Documents,Desktop,Downloads}/**'],
    ['/Volumes/USB', 'removable_volume', '/Volumes/*/**'],
    // above the rules' places: first match wins, in the rules' order
    [`${AS}/Google`, 'browser_secrets', CHROME_SECRETS],
    [`${H}/Library`, 'keychain', '~/Library/Keychains/**'],
    [H, 'keychain', '~/Library/Keychains/**'],
    ['/var/root', 'keychain', '~/Library/Keychains/**'],
    ['/Users', 'keychain', '~/Library/Keychains/**'],
    ['/private', 'keychain', '~/Library/Keychains/**'],
    ['/System/Volumes/Data', 'keychain', '~/Library/Keychains/**'],
    ['/', 'keychain', '~/Library/Keychains/**'],
  ])('%s holds %s', (dir, category, pattern) => {
    const m = defaults.matchBelow(dir);
    expect(m?.category).toBe(category);
    if (pattern) expect(m?.pattern).toBe(pattern);
  });

  it('most of them no rule matches themselves (a one-segment pattern like discord/{Local Storage,Cookies}* does)', () => {
    for (const dir of [`${H}/Library/Keychains`, `${AS}/Google/Chrome/Default`, `${AS}/Firefox/Profiles/x.default-release`, `${H}/.ssh`, `${H}/.aws`, H]) {
      expect(defaults.match(dir), dir).toBeUndefined();
    }
    expect(defaults.match(`${AS}/discord/Local Storage`)).toMatchObject({ category: 'messaging' });
    expect(defaults.match(`${AS}/Google/Chrome/Default/Network`)).toMatchObject({ category: 'browser_secrets' });
  });

  it('takes the path as `match` does: any case, the /private and Data-volume aliases, /var/root, a trailing separator', () => {
    for (const dir of [`/USERS/Dana/.SSH`, '/System/Volumes/Data/Users/dana/.ssh', '/System/Volumes/Data/private/var/root/.ssh', '/private/var/root/.ssh', `${H}/.ssh/`]) {
      expect(defaults.matchBelow(dir), dir).toMatchObject({ category: 'dev_credentials', tier: 1 });
    }
    expect(defaults.matchBelow(`${H}/library/KEYCHAINS`)).toMatchObject({ category: 'keychain', authorized: defaults.match(`${H}/Library/Keychains/login.keychain-db`)!.authorized });
  });
});

describe('a folder that holds no rule\'s files', () => {
  it.each([
    `${H}/Projects`, // reached only by the `**` of ~/**/*.kdbx: any folder could hold a .kdbx, none is named by it
    `${H}/Projects/app/build`,
    `${H}/Library/Caches`,
    `${H}/Library/Caches/Google/Chrome/Default`,
    '/tmp',
    '/private/tmp/x',
    '/private/var/folders/zz/abc/T',
    // in a profile, folders no rule's path goes through (the rules name Login Data, Cookies, Web Data, Network…)
    `${AS}/Google/Chrome/Default/Cache`,
    `${AS}/Google/Chrome/Default/Extensions`,
    // reached only through the wallet rules' lone `*` in a row (any app's folder two levels down could be a profile)
    `${AS}/Code/Cache`,
    `${AS}/Code/Cache/Cache_Data`,
    `${AS}/Slack/Cache`,
    `${H}/.ssh/sockets`, // the key rule's last segment is a file name: nothing below ~/.ssh/sockets
    '/Users/Shared', // no home
    '/usr/local',
    'relative/.ssh',
  ])('%s', (dir) => expect(defaults.matchBelow(dir)).toBeUndefined());
});

describe('config rules', () => {
  it('a rule whose every file ends in an except suffix holds nothing anywhere; one with another spelling does', () => {
    const m = SensitivePathMatcher.fromConfig({
      replace_defaults: true,
      add: [
        { pattern: '~/keys/*.pub', category: 'dev_credentials', except_suffixes: ['.pub'] },
        { pattern: '~/keys/{a.pub,b}', category: 'documents', except_suffixes: ['.PUB'] },
      ],
    });
    expect(m.match(`${H}/keys/x.pub`)).toBeUndefined();
    expect(m.matchBelow(`${H}/keys`)).toMatchObject({ category: 'documents' });
    const none = SensitivePathMatcher.fromConfig({ replace_defaults: true, add: [{ pattern: '~/keys/{a,b}.pub', category: 'dev_credentials', except_suffixes: ['.pub'] }] });
    expect(none.matchBelow(`${H}/keys`)).toBeUndefined();
  });

  it('a rule that matches anywhere names the folders its literal segments spell, not every folder its `**` reaches', () => {
    const m = SensitivePathMatcher.fromConfig({
      replace_defaults: true,
      add: [
        { pattern: '*.kdbx', category: 'password_manager' },
        { pattern: 'secrets/*.key', category: 'dev_credentials' },
      ],
    });
    expect(m.matchBelow('/opt/app')).toBeUndefined();
    expect(m.matchBelow('/opt/app/secrets')).toMatchObject({ category: 'dev_credentials' });
    expect(m.matchBelow(`${H}/Projects/secrets`)).toMatchObject({ category: 'dev_credentials' });
    expect(m.matchBelow('/')).toMatchObject({ category: 'password_manager' });
  });

  it('config additions come first, as in `match`', () => {
    const m = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [{ pattern: '~/.aws/credentials', category: 'documents' }] });
    expect(m.matchBelow(`${H}/.aws`)).toMatchObject({ category: 'documents', tier: 2 });
  });
});
