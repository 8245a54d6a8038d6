import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Logger } from '@registry-core/api';
import { ConfigError, PluginHost, discoverFirstPartyPlugins, loadConfig, type PluginEntry } from '@registry-core/kernel';

/** The cli package's folder: where the first-party plugins it ships are installed. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/**
 * `registry-core config schema`: print the config file's JSON schema (draft-07), the
 * kernel's keys with the `configSchema` of every installed first-party plugin and every
 * plugin the config lists, for the YAML language server and other editors. No plugin code
 * is imported: the schemas come from the manifests.
 */
export function registerConfigSchemaCommand(program: Command): void {
  const config = program.commands.find((c) => c.name() === 'config') ?? program.command('config').description('configuration commands');
  config
    .command('schema')
    .description("print the config file's JSON schema (kernel and plugins) for editors and the YAML language server")
    .option('-c, --config <file>', 'config file whose plugins to include as well (default: the one in this folder, if any)')
    .action(async (options: { config?: string }) => {
      let configured: readonly PluginEntry[] = [];
      let configDir = process.cwd();
      try {
        const loaded = await loadConfig({ file: options.config });
        configured = loaded.config.plugins;
        configDir = loaded.configDir;
      } catch (error) {
        // The schema is wanted most while the file is wrong: print it all the same.
        if (!(error instanceof ConfigError)) throw error;
        console.error(`note: ${error.message.split('\n')[0]}; its plugins are left out, installed first-party plugins are in`);
      }
      const host = new PluginHost(silent, configDir, [packageRoot]);
      host.inspect(configured);
      host.inspect(discoverFirstPartyPlugins([configDir, packageRoot]).map((name) => ({ name, options: {} })), true);
      for (const r of host.records.filter((r) => r.status === 'refused')) console.error(`note: plugin ${r.name} left out: ${r.reason}`);
      console.log(JSON.stringify(host.configSchema(), null, 2));
    });
}
