/** pwsh starts the file argument at the first parameter it does not know; its server modes read a peer, not the terminal. */
import { describe, expect, it } from 'vitest';
import type { ProcessRecord } from '../runtime/context.js';
import { isInteractiveShell } from './lineage.js';

const base: ProcessRecord = { pid: 1, processStart: 0, ppid: 0, originalPpid: null, responsiblePid: null, uid: 0, path: '/usr/local/microsoft/powershell/7/pwsh', name: 'pwsh', args: null, signingId: null, teamId: null, cdhash: null, platformBinary: null, tty: true, firstSeen: 0, lastSeen: 0, exitedAt: null };

// PowerShell CommandLineParameterParser.ParseHelper, last branch: "The first parameter we fail to recognize marks the
// beginning of the file string" (--i; ParseFile): pwsh runs ./-u.ps1 with the rest as its arguments, then exits.
// The server modes take commands from a named pipe / socket peer, not from the terminal.
describe('pwsh parameters PWSH_PARAMETERS does not list', () => {
  it.each([
    [['pwsh', '-u.ps1']],
    [['pwsh', '-NoLogo', '-NoProfile', '-stage2.ps1']],
    [['pwsh', '-NamedPipeServerMode', '-CustomPipeName', 'p']],
    [['pwsh', '-SocketServerMode']],
  ])('%j runs no interactive session', (args) => {
    expect(isInteractiveShell({ ...base, args })).toBe(false);
  });
});
