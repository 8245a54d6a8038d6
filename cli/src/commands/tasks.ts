import type { Command } from 'commander';
import type { FormatCommand, Logger } from '@registry-core/api';
import { PluginHost, discoverFirstPartyPlugins, type LoadedConfig } from '@registry-core/kernel';
import { createRegistry, load, packageRoot } from '../runtime.js';
import { serverAddress } from '../server-record.js';

interface TaskOptions {
  dryRun?: boolean;
  repository?: string;
  config?: string;
  registry?: string;
  token?: string;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/**
 * `task <format> <task>`: run a format's upkeep task (also `registry-core <format> <task>`,
 * see main), or one of its client-side commands (`registry-core go publish <dir> ...`).
 */
export function registerTaskCommand(program: Command): void {
  program
    .command('task <format> <task> [args...]')
    .description("run a format's upkeep task on its repositories (also as `registry-core <format> <task>`, e.g. `registry-core oci gc --dry-run`), or one of its commands (`registry-core go publish <dir> --version v1.0.0 --repository go-local`)")
    .option('--dry-run', 'change nothing; report what would change')
    .option('--repository <name>', 'only this repository (a command: the repository it works on)')
    .option('--registry <url>', "a command: the registry's URL (default: the server running on this data folder, else the config's address)")
    .option('--token <token>', 'a command: the token to send (default: REGISTRY_CORE_TOKEN)')
    .option('-c, --config <file>', 'config file')
    .allowUnknownOption()
    .action(async (format: string, task: string, rest: string[], options: TaskOptions) => {
      const loaded = await load(options);
      // A client-side command talks to a server over HTTP: only its format's plugin is
      // loaded (no data folder, database or storage is opened on the machine it runs on).
      try {
        if (await runIfFormatCommand(loaded, format, task, rest, options)) return;
      } catch (error) {
        console.error((error as Error).message);
        process.exitCode = 1;
        return;
      }
      const registry = await createRegistry(loaded);
      try {
        const unknown = rest.find((arg) => arg.startsWith('-')) ?? rest[0];
        if (unknown !== undefined) throw new Error(`unknown argument ${unknown} for the task ${format} ${task}`);
        const reports = await registry.runTask(format, task, { dryRun: !!options.dryRun, ...(options.repository ? { repository: options.repository } : {}) });
        for (const { repository, report } of reports) console.log(`${repository}: ${JSON.stringify(report)}`);
      } catch (error) {
        console.error((error as Error).message);
        process.exitCode = 1;
      } finally {
        await registry.stop();
      }
    });
}

/**
 * Run `format`'s command `name` when it has one (true), with only the plugin offering the
 * format activated: the config's plugins, else the installed first-party one.
 */
function runIfFormatCommand(loaded: LoadedConfig, format: string, name: string, rest: readonly string[], options: TaskOptions): Promise<boolean> {
  return withFormatCommand(loaded, format, name, (command) => runFormatCommand(command, rest, { ...options, registry: options.registry ?? serverAddress(loaded.config).url }));
}

/** `registry-core <format> <name> --help` of a format command: its usage and options (false when `format` has no command `name`). */
export async function printFormatCommandHelp(format: string, name: string, options: { config?: string }): Promise<boolean> {
  return withFormatCommand(await load(options), format, name, async (command) => {
    const options = [
      ...(command.options ?? []).map((o) => [`--${o.name}${o.flag ? '' : ' <value>'}`, `${o.description}${o.required ? ' (required)' : ''}`]),
      ['--repository <name>', 'the repository to work on'],
      ['--registry <url>', "the registry's URL (default: the server running on the data folder, else the config's address); a repository's own URL needs no --repository"],
      ['--token <token>', 'the token to send (default: REGISTRY_CORE_TOKEN)'],
      ['-c, --config <file>', 'config file'],
    ];
    const width = Math.max(...options.map(([flag]) => flag!.length));
    console.log(`Usage: registry-core ${format} ${command.name} ${usageOf(command.arguments ?? [])} [options]\n\n${command.description}\n\nOptions:`);
    for (const [flag, text] of options) console.log(`  ${flag!.padEnd(width)}  ${text}`);
  });
}

async function withFormatCommand(loaded: LoadedConfig, format: string, name: string, work: (command: FormatCommand) => Promise<void>): Promise<boolean> {
  const host = new PluginHost(silent, loaded.configDir, [packageRoot]);
  host.inspect(loaded.config.plugins);
  if (!host.offered('formats').has(format)) host.inspect(discoverFirstPartyPlugins([loaded.configDir, packageRoot]).map((n) => ({ name: n, options: {} })), true);
  try {
    await host.activate({ formats: new Set([format]), storageDrivers: new Set(), authProviders: new Set() });
    const command = host.formats.get(format)?.definition.commands?.find((c) => c.name === name);
    if (!command) return false;
    await work(command);
    return true;
  } finally {
    await host.deactivateAll();
  }
}

/** Parse `rest` (positional arguments, `--name value` options and flags) for `command` and run it. */
export async function runFormatCommand(
  command: FormatCommand,
  rest: readonly string[],
  options: { repository?: string; registry: string; token?: string },
  output: { print(line: string): void; printError(line: string): void; progress?(line: string): void } = {
    print: (line) => console.log(line),
    printError: (line) => console.error(line),
    ...(process.stderr.isTTY ? { progress: (line: string) => void process.stderr.write(`\r\x1b[2K${line}`) } : {}),
  },
): Promise<void> {
  const positional: string[] = [];
  const values: Record<string, string | undefined> = {};
  const known = new Map((command.options ?? []).map((o) => [o.name, o]));
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const option = known.get(name);
    if (!option) throw new Error(`unknown option --${name} (options: ${[...known.keys()].map((o) => `--${o}`).join(', ') || 'none'})`);
    if (option.flag) {
      if (inline !== undefined) throw new Error(`--${name} takes no value`);
      values[name] = 'true';
      continue;
    }
    const value = inline ?? rest[++i];
    if (value === undefined) throw new Error(`--${name} takes a value`);
    values[name] = value;
  }
  const names = command.arguments ?? [];
  const last = names.at(-1);
  const many = last?.endsWith('...') ? last.slice(0, -3) : undefined;
  const optional = last !== undefined && /^\[.*\.\.\.\]$/.test(last);
  const single = many === undefined && !optional ? names : names.slice(0, -1);
  if (optional ? positional.length < single.length : many === undefined ? positional.length !== single.length : positional.length <= single.length) {
    throw new Error(`usage: ${command.name} ${usageOf(names)} (${command.description})`);
  }
  for (const option of command.options ?? []) if (option.required && values[option.name] === undefined) throw new Error(`--${option.name} is required: ${option.description}`);
  const token = options.token ?? process.env['REGISTRY_CORE_TOKEN'];
  await command.run({
    args: Object.fromEntries(single.map((n, i) => [n, positional[i]!])),
    rest: many === undefined && !optional ? [] : positional.slice(single.length),
    options: values,
    repositoryUrl: repositoryUrl(options.registry, options.repository),
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...output,
  });
}

/** Positional arguments for a usage line: `<dir>`, `<files...>`, `[sources...]`. */
function usageOf(names: readonly string[]): string {
  return names.map((n) => (n.startsWith('[') ? n : `<${n}>`)).join(' ');
}

/** `--repository` under the registry's URL; without it, a registry URL with a path is the repository's own. */
export function repositoryUrl(registry: string, repository: string | undefined): string {
  let url: URL;
  try {
    url = new URL(registry);
  } catch {
    throw new Error(`--registry must be a URL: ${registry}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--registry must be an http(s) URL: ${registry}`);
  const base = url.href.replace(/\/+$/, '');
  if (repository) return `${base}/${encodeURIComponent(repository)}/`;
  if (url.pathname.replace(/\/+$/, '') !== '') return `${base}/`;
  throw new Error('--repository is required: the repository to work on (or a --registry URL that is the repository\'s, like http://localhost:4000/zig/)');
}
