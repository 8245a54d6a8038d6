import { Command } from 'commander';
import { ConfigError } from '@registry-core/kernel';
import type { RegisterCommands } from './command-group.js';
import { registerAuditCommand } from './commands/audit.js';
import { registerCacheTtlCommands } from './commands/cache-ttl.js';
import { registerCacheCommands } from './commands/cache.js';
import { registerCallCommand } from './commands/call.js';
import { registerConfigCommands } from './commands/config.js';
import { registerConfigSchemaCommand } from './commands/config-schema.js';
import { registerDbCommands } from './commands/db.js';
import { registerOwnersCommands } from './commands/owners.js';
import { registerPluginsCommands } from './commands/plugins.js';
import { registerSetupCommand } from './commands/setup.js';
import { registerStartCommand } from './commands/start.js';
import { registerStatsCommand } from './commands/stats.js';
import { registerStatusCommand } from './commands/status.js';
import { registerStorageCommands } from './commands/storage.js';
import { printFormatCommandHelp, registerTaskCommand } from './commands/tasks.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerUserCommands } from './commands/users.js';
import { pinDataDir, versionReport } from './runtime.js';

/**
 * Every command module, in the order `--help` lists them. A new command group is one
 * module in commands/ and one line here; subcommands of an existing group (`config`,
 * `cache`) join it through commandGroup().
 */
const commandModules: readonly RegisterCommands[] = [
  registerStartCommand,
  registerSetupCommand,
  registerConfigCommands,
  registerConfigSchemaCommand,
  registerPluginsCommands,
  registerStatusCommand,
  registerStatsCommand,
  registerAuditCommand,
  registerDbCommands,
  registerCacheCommands,
  registerStorageCommands,
  registerTaskCommand,
  registerCallCommand,
  registerCacheTtlCommands,
  registerUserCommands,
  registerOwnersCommands,
  registerTokenCommands,
];

/**
 * The program. `versionOption: false` leaves `--version` to the command (a format command's
 * own, as in `registry-core go publish <dir> --version v1.2.3`): commander would otherwise
 * take it as the program's wherever it stands.
 */
export function buildProgram(options: { versionOption?: boolean } = {}): Command {
  const program = new Command('registry-core').description('One registry server for npm and every other package ecosystem, as plugins.');
  if (options.versionOption !== false) program.version(versionReport(), '-V, --version', 'print the version of registry-core and of each @registry-core package it runs with');
  program
    .option('--data-dir <dir>', 'the data folder, for every command (overrides dataDir of the config and REGISTRY_CORE_DATA_DIR)')
    .hook('preAction', () => pinDataDir(program.opts<{ dataDir?: string }>().dataDir));
  for (const register of commandModules) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    // `registry-core <format> <task> ...` is `registry-core task <format> <task> ...`.
    const [first, second] = argv.slice(2);
    const known = new Set(buildProgram().commands.flatMap((c) => [c.name(), ...c.aliases()]));
    if (first && second && !first.startsWith('-') && !second.startsWith('-') && !known.has(first) && first !== 'help') argv = [...argv.slice(0, 2), 'task', ...argv.slice(2)];
    // `registry-core <format> <command> --help`: a format command's own help, not the task command's.
    const [command, format, name, ...rest] = argv.slice(2);
    if (command === 'task' && format && name && !format.startsWith('-') && !name.startsWith('-') && rest.some((a) => a === '--help' || a === '-h')) {
      const config = rest.findIndex((a) => a === '--config' || a === '-c');
      if (await printFormatCommandHelp(format, name, config >= 0 ? { config: rest[config + 1] } : {})) return;
    }
    await buildProgram({ versionOption: argv[2] !== 'task' }).parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
}
