import type { Command } from 'commander';
import { createRegistry, load } from '../runtime.js';

/** `task <format> <task>`: run a format's upkeep task (also `registry-core <format> <task>`, see main). */
export function registerTaskCommand(program: Command): void {
  program
    .command('task <format> <task>')
    .description("run a format's upkeep task on its repositories (also as `registry-core <format> <task>`, e.g. `registry-core oci gc --dry-run`)")
    .option('--dry-run', 'change nothing; report what would change')
    .option('--repository <name>', 'only this repository')
    .option('-c, --config <file>', 'config file')
    .action(async (format: string, task: string, options: { dryRun?: boolean; repository?: string; config?: string }) => {
      const registry = await createRegistry(await load(options));
      try {
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
