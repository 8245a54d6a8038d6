import type { Command } from 'commander';
import type { FormatCommand } from '@registry-core/api';
import { createRegistry, load } from '../runtime.js';
import { serverAddress } from '../server-record.js';

interface TaskOptions {
  dryRun?: boolean;
  repository?: string;
  config?: string;
  registry?: string;
  token?: string;
}

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
      const registry = await createRegistry(loaded);
      try {
        const command = registry.plugins.formats.get(format)?.definition.commands?.find((c) => c.name === task);
        if (command) {
          const base = (options.registry ?? serverAddress(loaded.config).url).replace(/\/+$/, '');
          await runFormatCommand(command, rest, { ...options, registry: base });
          return;
        }
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

/** Parse `rest` (positional arguments and `--name value` options) for `command` and run it. */
async function runFormatCommand(command: FormatCommand, rest: readonly string[], options: TaskOptions & { registry: string }): Promise<void> {
  const positional: string[] = [];
  const values: Record<string, string | undefined> = {};
  const known = new Set((command.options ?? []).map((o) => o.name));
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!known.has(name)) throw new Error(`unknown option --${name} (options: ${[...known].map((o) => `--${o}`).join(', ') || 'none'})`);
    const value = inline ?? rest[++i];
    if (value === undefined) throw new Error(`--${name} takes a value`);
    values[name] = value;
  }
  const names = command.arguments ?? [];
  if (positional.length !== names.length) throw new Error(`usage: ${command.name} ${names.map((n) => `<${n}>`).join(' ')} (${command.description})`);
  for (const option of command.options ?? []) if (option.required && values[option.name] === undefined) throw new Error(`--${option.name} is required: ${option.description}`);
  if (!options.repository) throw new Error('--repository is required: the repository to work on');
  const token = options.token ?? process.env['REGISTRY_CORE_TOKEN'];
  await command.run({
    args: Object.fromEntries(names.map((n, i) => [n, positional[i]!])),
    options: values,
    repositoryUrl: `${options.registry}/${encodeURIComponent(options.repository)}/`,
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    print: (line) => console.log(line),
  });
}
