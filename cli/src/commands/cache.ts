import { InvalidArgumentError, type Command } from 'commander';
import { commandGroup } from '../command-group.js';
import { createRegistry, load } from '../runtime.js';

/** `cache clean`, `cache verify`: proxy cache upkeep. */
export function registerCacheCommands(program: Command): void {
  const cache = commandGroup(program, 'cache', 'proxy cache upkeep');
  cache
    .command('clean')
    .description('remove expired metadata and content of proxies unused for N days, then enforce cleanup.maxCacheSize (least recently used first); hosted content is never removed')
    .option('--dry-run', 'only report what would be removed')
    .option('--unused-days <days>', 'override cleanup.unusedDays', (v) => {
      const n = Number(v);
      if (!(n >= 0)) throw new InvalidArgumentError('must be a number of days');
      return n;
    })
    .option('-c, --config <file>', 'config file')
    .action(async (options: { dryRun?: boolean; unusedDays?: number; config?: string }) => {
      const registry = await createRegistry(await load(options));
      try {
        const summary = await registry.cleanCache({ dryRun: options.dryRun, unusedDays: options.unusedDays, onProgress: (m) => console.error(m) });
        console.log(
          `${summary.dryRun ? 'would remove' : 'removed'}: ${summary.expiredMetadata} expired metadata, ${summary.unusedContent} unused artifacts, ` +
            `${summary.evictedForSize} evicted for size; ${(summary.bytesFreed / 1024 / 1024).toFixed(1)} MB`,
        );
      } finally {
        await registry.stop();
      }
    });
  cache
    .command('verify')
    .description('re-hash stored blobs against the metadata store and report the bad ones')
    .option('--repair', 'drop the bad assets (proxies fetch them again)')
    .option('--repository <name>', 'only this repository')
    .option('-c, --config <file>', 'config file')
    .action(async (options: { repair?: boolean; repository?: string; config?: string }) => {
      const registry = await createRegistry(await load(options));
      try {
        const result = await registry.maintenance.verify({ repair: options.repair, repository: options.repository, onProgress: (n) => console.error(`checked ${n}`) });
        for (const bad of result.bad) console.log(`BAD ${bad.repository}/${bad.path}: ${bad.reason}${options.repair ? ' (dropped)' : ''}`);
        console.log(`checked ${result.checked} assets, ${result.bad.length} bad`);
        if (result.bad.length > 0 && !options.repair) process.exitCode = 1;
      } finally {
        await registry.stop();
      }
    });
}
