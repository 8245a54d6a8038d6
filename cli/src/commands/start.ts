import type { Command } from 'commander';
import { bannerLines } from '../client-setup.js';
import { port } from '../arguments.js';
import { createRegistry, load, version } from '../runtime.js';
import { localUrl, removeServerRecord, writeServerRecord } from '../server-record.js';

/** `start`: run the server until SIGINT or SIGTERM, after printing where to point clients. */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('start the registry (zero-config default when no config file is found)')
    .option('-c, --config <file>', 'config file (default: REGISTRY_CORE_CONFIG, else registry-core.config.* or .registry-corerc in this folder)')
    .option('-p, --port <port>', 'port to listen on (overrides server.port, PORT and REGISTRY_CORE_SERVER__PORT)', port)
    .option('-H, --host <host>', 'address to listen on (overrides server.host, HOST and REGISTRY_CORE_SERVER__HOST)')
    .option('--verbose', "print every repository's client configuration lines (as `registry-core setup` does)")
    .action(async (options: { config?: string; port?: number; host?: string; verbose?: boolean }) => {
      const loaded = await load(options);
      const registry = await createRegistry(loaded, { server: true });
      const address = await registry.start();
      const { dataDir, server } = registry.config;
      // `status` and `setup` find this server through its data folder, whatever its port.
      writeServerRecord(dataDir, { pid: process.pid, url: localUrl(server.host, address.port), port: address.port, startedAt: new Date().toISOString(), version });
      const head = `registry-core ${version} listening on port ${address.port} (${loaded.filepath ? `config ${loaded.filepath}` : 'zero-config default'})`;
      console.log(bannerLines(registry, loaded, head, options.verbose ?? false).join('\n'));
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) {
          registry.logger.warn(`second ${signal}: exiting now`);
          process.exit(1);
        }
        stopping = true;
        registry.logger.info(`${signal} received: finishing in-flight requests`);
        removeServerRecord(dataDir);
        await registry.stop();
        registry.logger.info('stopped');
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}
