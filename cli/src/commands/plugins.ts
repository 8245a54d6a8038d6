import type { Command } from 'commander';
import { createRegistry, load } from '../runtime.js';

/** `plugins list`: declared plugins and what became of them. */
export function registerPluginsCommands(program: Command): void {
  program
    .command('plugins')
    .description('plugin commands')
    .command('list')
    .description('list declared plugins: active, inactive, refused (with the reason)')
    .option('-c, --config <file>', 'config file')
    .option('--json', 'print JSON')
    .action(async (options: { config?: string; json?: boolean }) => {
      const registry = await createRegistry(await load(options));
      try {
        const rows = registry.plugins.records.map((p) => ({
          name: p.name,
          version: p.version || '-',
          status: p.status,
          implicit: p.implicit,
          contributes: p.manifest?.contributes ?? {},
          ...(p.reason ? { reason: p.reason } : {}),
        }));
        if (options.json) console.log(JSON.stringify(rows, null, 2));
        else for (const r of rows) console.log(`${r.status.padEnd(8)} ${r.name}@${r.version}${r.implicit ? ' (implicit)' : ''}${r.reason ? `  ${r.reason}` : ''}`);
      } finally {
        await registry.stop();
      }
    });
}
