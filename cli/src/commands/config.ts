import type { Command } from 'commander';
import { describePlugin } from '@registry-core/kernel';
import { commandGroup } from '../command-group.js';
import { createRegistry, load } from '../runtime.js';

/** `config check`: validate the config and the plugins it declares. */
export function registerConfigCommands(program: Command): void {
  commandGroup(program, 'config', 'configuration commands')
    .command('check')
    .description('validate the config file and the plugins it declares')
    .option('-c, --config <file>', 'config file')
    .action(async (options: { config?: string }) => {
      const loaded = await load(options);
      const registry = await createRegistry(loaded);
      try {
        const problems = [
          ...registry.plugins.records.filter((p) => p.status === 'refused' || p.status === 'failed').map((p) => `plugin ${describePlugin(p)}: ${p.reason}`),
          ...registry.unavailable.map((r) => `repository ${r.name}: ${r.reason}`),
        ];
        console.log(`config: ${loaded.filepath ?? '(zero-config default)'}`);
        console.log(`repositories: ${registry.repositories.size} ready`);
        for (const p of problems) console.log(`problem: ${p}`);
        if (problems.length) process.exitCode = 1;
        else console.log('config OK');
      } finally {
        await registry.stop();
      }
    });
}
