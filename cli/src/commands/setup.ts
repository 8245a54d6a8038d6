import { homedir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { ClientSettingsFile } from '@registry-core/api';
import { clientSetupLines, dataDirLine } from '../client-setup.js';
import { MergeRefused, mergeSettings, readIfExists, writeWithBackup } from '../config-files.js';
import { createRegistry, load } from '../runtime.js';
import { runningServer } from '../server-record.js';

interface SetupOptions {
  config?: string;
  client?: string;
  write?: boolean;
  token?: string;
  home?: string;
}

/**
 * `setup`: the client configuration lines of every repository, for the running server's
 * address; `setup <repository> [--client C] [--write]`: that repository's client
 * configuration files (`.npmrc`, `pip.conf`, `.pypirc`...), printed or merged into the files
 * in the home folder (each one copied to a backup first).
 */
export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .argument('[repository]', "one repository: its clients' configuration files")
    .description("print every repository's URL and the lines its clients need (npm, pip, mvn, docker...), groups first, for the address of the server running on this data folder; with a repository, its clients' configuration files, written with --write")
    .option('-c, --config <file>', 'config file')
    .option('--client <name>', "one client's file (npm, pnpm, yarn, pip, uv, poetry, twine, mvn, gradle, docker, podman, go, cargo, nuget, conda); default: every client the format configures")
    .option('--write', 'merge the settings into the files in the home folder (an existing file is copied to <file>.bak-<time> first)')
    .option('--token <token>', 'the token the files carry (default: REGISTRY_CORE_TOKEN); without one, none or an environment reference')
    .option('--home <dir>', 'the home folder the files are in (default: yours)')
    .action(async (repository: string | undefined, options: SetupOptions) => {
      const first = await load(options);
      // The running server's port (it may have been started with --port), else the config's.
      const running = runningServer(first.config.dataDir);
      const loaded = running ? await load({ ...options, port: running.port }) : first;
      const registry = await createRegistry(loaded);
      try {
        if (repository === undefined) {
          console.log(running ? `registry-core running at ${running.url} (pid ${running.pid})` : `no server is running on this data folder; addresses from the config (port ${loaded.config.server.port})`);
          console.log(dataDirLine(loaded));
          console.log('');
          console.log(clientSetupLines(registry).join('\n'));
          return;
        }
        const info = registry.repositoryInfos().find((r) => r.name === repository);
        if (!info) throw new Error(`no repository named ${repository} (repositories: ${registry.repositoryInfos().map((r) => r.name).join(', ')})`);
        const token = options.token || process.env['REGISTRY_CORE_TOKEN'] || undefined;
        const all = registry.clientSettings(info, token);
        const files = options.client ? all.filter((f) => f.client === options.client) : all;
        if (files.length === 0) {
          // A file that only carries a token (Docker's config.json) is offered with one only.
          const needsToken = token === undefined && registry.clientSettings(info, 'TOKEN').some((f) => !options.client || f.client === options.client);
          if (needsToken && options.write) throw new Error(`the ${info.format} format's ${options.client ?? 'client'} configuration carries a token: pass --token or set REGISTRY_CORE_TOKEN`);
          const clients = [...new Set(all.map((f) => f.client))];
          const lines = registry.clientConfig(info);
          if (options.client && clients.length > 0) throw new Error(`the ${info.format} format configures no client named ${options.client} (clients: ${clients.join(', ')})`);
          if (options.write) throw new Error(`the ${info.format} format names no configuration file${options.client ? ` for ${options.client}` : ''}: set the client up with these lines:\n${lines.join('\n')}`);
          console.log(`${info.name}  ${info.url}\n${lines.map((l) => `  ${l}`).join('\n')}`);
          return;
        }
        const home = path.resolve(options.home ?? homedir());
        // One file may serve several clients (.npmrc): merged once.
        const byPath = new Map<string, ClientSettingsFile[]>();
        for (const file of files) byPath.set(file.path, [...(byPath.get(file.path) ?? []), file]);
        for (const [relative, group] of byPath) {
          const file = path.join(home, relative);
          const { settings, syntax, content } = group[0]!;
          let merged: string;
          try {
            merged = syntax === 'whole' ? (content ?? '') : mergeSettings(readIfExists(file), settings, syntax);
          } catch (error) {
            if (error instanceof MergeRefused) throw new Error(`${file}: ${error.message}; the file is left as it is: set the client up with these lines:\n${registry.clientConfig(info).join('\n')}`);
            throw error;
          }
          const clients = group.map((f) => f.client).join(', ');
          if (!options.write) {
            console.log(`# ${file} (${clients})`);
            console.log(syntax === 'whole' ? content : mergeSettings('', settings, syntax));
            continue;
          }
          const backup = writeWithBackup(file, merged, token !== undefined);
          console.log(`wrote ${file} (${clients})${backup ? `; the previous file is ${backup}` : ''}`);
        }
      } finally {
        await registry.stop();
      }
    });
}
