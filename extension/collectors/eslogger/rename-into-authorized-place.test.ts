/**
 * A rename reports its destination when that is sensitive, else its source. A destination whose rule authorizes the
 * process (Discord for discord/Cookies*, Telegram Desktop for its folder; code injected into Discord's
 * discord_desktop_core runs with Discord's identity) must not hide a sensitive source that it is not authorized for:
 * moving the login keychain there is still the keychain leaving its place.
 */
import { expect, it } from 'vitest';
import { body, esLine } from './testing/es-lines.mjs';
import { pipelineWorld } from './testing/test-context.js';

const NOW = 1_772_500_000;
const HOME = '/Users/alice';
const discord = { pid: 510, ppid: 1, path: '/Applications/Discord.app/Contents/MacOS/Discord', signingId: 'com.hnc.Discord', teamId: '53Q6R32WPB', startMs: (NOW - 7200) * 1000 };
const telegram = { pid: 500, ppid: 1, path: '/Applications/Telegram.app/Contents/MacOS/Telegram', signingId: 'com.tdesktop.Telegram', teamId: 'C67CF9S4VU', startMs: (NOW - 7200) * 1000 };

it.each([
  ['Discord', discord, `${HOME}/Library/Application Support/discord`, 'Cookies-1'],
  ['Telegram Desktop', telegram, `${HOME}/Library/Application Support/Telegram Desktop`, 'k'],
])('%s moving the login keychain into its own authorized folder records the keychain leaving', (_name, proc, dir, filename) => {
  const { pipeline, sensitiveEvents } = pipelineWorld({ now: NOW });
  pipeline.handleLine(esLine({ kind: 'rename', timeMs: (NOW - 50) * 1000, gseq: 1, process: proc, body: body.renameNew(`${HOME}/Library/Keychains/login.keychain-db`, dir, filename) }));
  // a tier-1 rename row (before Discord and Telegram Desktop were authorized: the destination's, messaging)
  expect(sensitiveEvents.toArray()).toMatchObject([{ operation: 'rename', tier: 1 }]);
});

it('its moving its own data within its folder stays authorized (no row)', () => {
  const { pipeline, sensitiveEvents } = pipelineWorld({ now: NOW });
  pipeline.handleLine(esLine({ kind: 'rename', timeMs: (NOW - 50) * 1000, gseq: 1, process: telegram, body: body.renameNew(`${HOME}/Library/Application Support/Telegram Desktop/tdata/a.tmp`, `${HOME}/Library/Application Support/Telegram Desktop/tdata`, 'a') }));
  expect(sensitiveEvents.toArray()).toEqual([]);
});
