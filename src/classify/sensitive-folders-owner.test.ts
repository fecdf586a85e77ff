/**
 * matchBelow on the folders apps keep directly in ~/Library/Application Support: only the wallet-extension rules'
 * `Application Support/*\/*\/…` reaches an arbitrary `<App>` folder, through the first `*` of a run of lone `*`s (a
 * place any app's folder could be), so it must not make every such folder a crypto wallet nor hide the rule that names
 * the folder (Signal, Telegram, 1Password… with their authorized readers).
 */
import { describe, expect, it } from 'vitest';
import { SensitivePathMatcher } from './sensitive-paths.js';

const defaults = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] });
const AS = '/Users/dana/Library/Application Support';

describe('an app folder directly under Application Support', () => {
  it.each(['Code', 'Spotify', 'Knowledge', 'Scrivo', 'com.example.widget', 'CrashReporter'])('%s holds no rule\'s files', (app) => {
    expect(defaults.matchBelow(`${AS}/${app}`)).toBeUndefined();
  });

  it.each([
    ['Signal', 'messaging', '~/Library/Application Support/Signal/**'],
    ['Telegram Desktop', 'messaging', '~/Library/Application Support/Telegram Desktop/**'],
    ['discord', 'messaging', '~/Library/Application Support/discord/{Local Storage,Cookies}*'],
    ['1Password', 'password_manager', '~/Library/Application Support/1Password/**'],
    ['Bitwarden', 'password_manager', '~/Library/Application Support/Bitwarden/**'],
    ['Microsoft Edge', 'browser_secrets', '~/Library/Application Support/Microsoft Edge/*/{Login Data,Login Data For Account,Cookies,Web Data,Network}*'],
    ['Google', 'browser_secrets', '~/Library/Application Support/Google/Chrome/*/{Login Data,Login Data For Account,Cookies,Web Data,Network}*'],
    ['Exodus', 'crypto_wallet', '~/Library/Application Support/Exodus/exodus.wallet/**'],
    ['Ledger Live', 'crypto_wallet', '~/Library/Application Support/Ledger Live/**'],
  ])('%s is judged by the rule that names it (%s)', (app, category, pattern) => {
    expect(defaults.matchBelow(`${AS}/${app}`)).toMatchObject({ category, pattern });
  });

  it('a browser profile and a wallet extension\'s folder are still credited', () => {
    expect(defaults.matchBelow(`${AS}/Google/Chrome/Default`)).toMatchObject({ category: 'browser_secrets' });
    expect(defaults.matchBelow(`${AS}/Yandex/YandexBrowser/Default/Local Extension Settings`)).toMatchObject({ category: 'crypto_wallet' });
  });
});

describe('the Data volume', () => {
  it('its System folder is not the root of everything (only /System, /System/Volumes and the Data volume are)', () => {
    expect(defaults.matchBelow('/System/Volumes/Data/System')).toBeUndefined();
    expect(defaults.matchBelow('/System/Volumes/Data/System/Volumes')).toBeUndefined();
    expect(defaults.matchBelow('/System/Volumes/Data')).toMatchObject({ category: 'keychain' });
  });
});
