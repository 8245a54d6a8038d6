import path from 'node:path';
import type { Command } from 'commander';
import { API_VERSION } from '@registry-core/api';
import { createRegistry, load } from '../runtime.js';
import { scaffoldFormatPlugin } from '../plugin-scaffold.js';

/** The API range a plugin's manifest asks for, read even from a manifest the host refused. */
function wantedApi(packageJson: Record<string, unknown> | undefined): string | undefined {
  const block = packageJson?.['registryCore'];
  const range = block && typeof block === 'object' ? (block as Record<string, unknown>)['apiVersion'] : undefined;
  return typeof range === 'string' ? range : undefined;
}

/** `plugins list` (or `plugin list`): the plugins found, and what became of them; `plugin new`: a format plugin's package. */
export function registerPluginsCommands(program: Command): void {
  const plugins = program.command('plugins').alias('plugin').description('plugin commands');
  plugins
    .command('new')
    .description('write a new format plugin package: a versioned-files format against @registry-core/api alone, its README, and a test running registry-core\'s format conformance kit on it (npm install && npm test)')
    .argument('<name>', 'the npm package name (e.g. registry-core-plugin-foo or @you/registry-core-plugin-foo)')
    .requiredOption('--format <id>', 'the format id repositories name in the config (lowercase letters, digits and -)')
    .option('--dir <folder>', 'where to write it (default: the last part of the name, in the current folder)')
    .action(async (name: string, options: { format: string; dir?: string }) => {
      const written = await scaffoldFormatPlugin({ packageName: name, format: options.format, dir: options.dir });
      console.log(`wrote ${written.files.length} files in ${written.dir}:`);
      for (const file of written.files) console.log(`  ${file}`);
      console.log(`next: cd ${path.relative(process.cwd(), written.dir) || '.'} && npm install && npm test`);
    });
  plugins
    .command('list')
    .description(`list the plugins found (declared, and the first-party ones installed): version, the @registry-core/api range each wants (this host: ${API_VERSION}), active, inactive, refused or failed with the reason`)
    .option('-c, --config <file>', 'config file')
    .option('--json', 'print JSON')
    .action(async (options: { config?: string; json?: boolean }) => {
      const registry = await createRegistry(await load(options));
      try {
        const rows = registry.plugins.records.map((p) => ({
          name: p.name,
          version: p.version || '-',
          api: p.manifest?.apiVersion ?? wantedApi(p.packageJson) ?? '-',
          status: p.status,
          implicit: p.implicit,
          contributes: p.manifest?.contributes ?? {},
          ...(p.reason ? { reason: p.reason } : {}),
        }));
        if (options.json) console.log(JSON.stringify(rows, null, 2));
        else {
          console.log(`@registry-core/api ${API_VERSION} (the plugin API this host provides)`);
          const width = Math.max(0, ...rows.map((r) => `${r.name}@${r.version}`.length));
          for (const r of rows) {
            const line = `${r.status.padEnd(8)} ${`${r.name}@${r.version}`.padEnd(width)}  api ${r.api}${r.implicit ? ' (implicit)' : ''}${r.reason ? `  ${r.reason}` : ''}`;
            console.log(line.trimEnd());
          }
        }
      } finally {
        await registry.stop();
      }
    });
}
