import type { FormatCommand, FormatCommandContext } from '@registry-core/api';
import { describe, expect, it, vi } from 'vitest';
import { printFormatCommandHelp, repositoryUrl, runFormatCommand } from './tasks.js';

/** A command that keeps what the host handed it. */
function recording(shape: Pick<FormatCommand, 'arguments' | 'options'>): { command: FormatCommand; seen: FormatCommandContext[] } {
  const seen: FormatCommandContext[] = [];
  return { command: { name: 'do', description: 'test command', ...shape, run: async (context) => void seen.push(context) }, seen };
}

const quiet = { print() {}, printError() {} };
const host = { registry: 'http://127.0.0.1:4000', repository: 'r', token: 'tok' };

describe('format commands: the host parses the line', () => {
  it('gives a last `name...` argument all the remaining positionals as rest', async () => {
    const { command, seen } = recording({ arguments: ['channel', 'files...'], options: [{ name: 'subdir', description: 's' }] });
    await runFormatCommand(command, ['main', 'a.conda', '--subdir', 'noarch', 'b.tar.bz2'], host, quiet);
    expect(seen[0]).toMatchObject({ args: { channel: 'main' }, rest: ['a.conda', 'b.tar.bz2'], options: { subdir: 'noarch' }, repositoryUrl: 'http://127.0.0.1:4000/r/', authorization: 'Bearer tok' });
    await expect(runFormatCommand(command, ['main'], host, quiet)).rejects.toThrow('usage: do <channel> <files...>');
  });

  it('gives a last `[name...]` argument zero or more positionals', async () => {
    const { command, seen } = recording({ arguments: ['[sources...]'], options: [{ name: 'from-file', description: 'f' }] });
    await runFormatCommand(command, ['--from-file', 'list.txt'], host, quiet);
    await runFormatCommand(command, ['a', 'b'], host, quiet);
    expect(seen.map((c) => c.rest)).toEqual([[], ['a', 'b']]);
    expect(seen[0]!.options).toEqual({ 'from-file': 'list.txt' });
    const two = recording({ arguments: ['channel', '[specs...]'] });
    await expect(runFormatCommand(two.command, [], host, quiet)).rejects.toThrow('usage: do <channel> [specs...]');
  });

  it('reads a flag without taking the next argument as its value, and refuses a value for it', async () => {
    const { command, seen } = recording({ arguments: ['dir'], options: [{ name: 'json', description: 'j', flag: true }, { name: 'note', description: 'n' }] });
    await runFormatCommand(command, ['--json', 'pkg', '--note=a=b'], host, quiet);
    expect(seen[0]).toMatchObject({ args: { dir: 'pkg' }, rest: [], options: { json: 'true', note: 'a=b' } });
    await expect(runFormatCommand(command, ['pkg', '--json=yes'], host, quiet)).rejects.toThrow('--json takes no value');
    await expect(runFormatCommand(command, ['pkg', '--note'], host, quiet)).rejects.toThrow('--note takes a value');
    await expect(runFormatCommand(command, ['pkg', '--other', 'x'], host, quiet)).rejects.toThrow('unknown option --other (options: --json, --note)');
    await expect(runFormatCommand(command, ['a', 'b'], host, quiet)).rejects.toThrow('usage: do <dir>');
  });

  it('hands over print and printError', async () => {
    const lines: string[] = [];
    const command: FormatCommand = { name: 'do', description: 'd', run: async ({ print, printError }) => (print('out'), printError('err')) };
    await runFormatCommand(command, [], host, { print: (l) => lines.push(`1 ${l}`), printError: (l) => lines.push(`2 ${l}`) });
    expect(lines).toEqual(['1 out', '2 err']);
  });

  it('takes a --registry URL with a path as the repository URL when --repository is not given', () => {
    expect(repositoryUrl('http://127.0.0.1:4000/', 'zig-local')).toBe('http://127.0.0.1:4000/zig-local/');
    expect(repositoryUrl('https://reg.example/base', 'a b')).toBe('https://reg.example/base/a%20b/');
    expect(repositoryUrl('http://127.0.0.1:4000/zig', undefined)).toBe('http://127.0.0.1:4000/zig/');
    expect(repositoryUrl('http://127.0.0.1:4000/zig/', undefined)).toBe('http://127.0.0.1:4000/zig/');
    expect(() => repositoryUrl('http://127.0.0.1:4000', undefined)).toThrow('--repository is required');
    expect(() => repositoryUrl('127.0.0.1:4000', 'zig')).toThrow('--registry must be');
    expect(() => repositoryUrl('not a url', 'zig')).toThrow('--registry must be a URL');
  });
});

describe('format command help', () => {
  it("prints a format command's arguments and options, the host's too; a task is not a command", async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await printFormatCommandHelp('zig', 'publish', {})).toBe(true);
      const text = log.mock.calls.map((c) => String(c[0])).join('\n');
      expect(text).toContain('Usage: registry-core zig publish <package> [options]');
      expect(text).toMatch(/--json +print the registry's JSON answer/);
      expect(text).toMatch(/--description <value> +a description/);
      expect(text).toMatch(/--repository <name> +the repository to work on/);
      expect(await printFormatCommandHelp('oci', 'gc', {})).toBe(false);
    } finally {
      log.mockRestore();
    }
  });
});
