import type { Command } from 'commander';
import { MetadataStore } from '@registry-core/kernel';
import { load } from '../runtime.js';

/** `db migrate`: metadata store schema upkeep. */
export function registerDbCommands(program: Command): void {
  program
    .command('db')
    .description('metadata store commands')
    .command('migrate')
    .description('apply pending migrations to the metadata store (SQLite or PostgreSQL); needed before start when metadata.migrate is false')
    .option('-c, --config <file>', 'config file')
    .action(async (options: { config?: string }) => {
      const { config } = await load(options);
      const metadata = await MetadataStore.open(config.metadata, { migrate: false, check: false });
      try {
        const applied = await metadata.migrate();
        console.log(applied.length ? `applied ${applied.join(', ')}` : 'the metadata store is up to date');
      } finally {
        await metadata.close();
      }
    });
}
