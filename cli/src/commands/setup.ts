import type { Command } from 'commander';
import { clientSetupLines, dataDirLine } from '../client-setup.js';
import { createRegistry, load } from '../runtime.js';
import { runningServer } from '../server-record.js';

/** `setup`: the client configuration lines of every repository, for the running server's address. */
export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .description("print every repository's URL and the lines its clients need (npm, pip, mvn, docker...), groups first, for the address of the server running on this data folder")
    .option('-c, --config <file>', 'config file')
    .action(async (options: { config?: string }) => {
      const first = await load(options);
      // The running server's port (it may have been started with --port), else the config's.
      const running = runningServer(first.config.dataDir);
      const loaded = running ? await load({ ...options, port: running.port }) : first;
      const registry = await createRegistry(loaded);
      try {
        console.log(running ? `registry-core running at ${running.url} (pid ${running.pid})` : `no server is running on this data folder; addresses from the config (port ${loaded.config.server.port})`);
        console.log(dataDirLine(loaded));
        console.log('');
        console.log(clientSetupLines(registry).join('\n'));
      } finally {
        await registry.stop();
      }
    });
}
