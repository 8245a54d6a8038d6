import type { Command } from 'commander';
import { describePlugin, type LoadedConfig, type Registry } from '@registry-core/kernel';
import { port } from '../arguments.js';
import { createRegistry, load, version } from '../runtime.js';

/** `start`: run the server until SIGINT or SIGTERM, after printing each repository's URL. */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('start the registry (zero-config default when no config file is found)')
    .option('-c, --config <file>', 'config file (default: registry-core.config.* or .registry-corerc in this folder)')
    .option('-p, --port <port>', 'port to listen on (overrides server.port)', port)
    .option('-H, --host <host>', 'address to listen on (overrides server.host)')
    .action(async (options: { config?: string; port?: number; host?: string }) => {
      const loaded = await load(options);
      const registry = await createRegistry(loaded);
      const address = await registry.start();
      printBanner(registry, loaded, address.port);
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) {
          registry.logger.warn(`second ${signal}: exiting now`);
          process.exit(1);
        }
        stopping = true;
        registry.logger.info(`${signal} received: finishing in-flight requests`);
        await registry.stop();
        registry.logger.info('stopped');
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}

function printBanner(registry: Registry, loaded: LoadedConfig, boundPort: number): void {
  const lines: string[] = [];
  lines.push(`registry-core ${version} listening on port ${boundPort} (${loaded.filepath ? `config ${loaded.filepath}` : 'zero-config default'})`);
  lines.push(`data: ${registry.config.dataDir}`);
  for (const info of registry.repositoryInfos()) {
    lines.push('');
    lines.push(`  ${info.name}  (${info.format} ${info.type}${info.type === 'proxy' ? ` of ${String(info.config['upstream'])}` : ''}${info.type === 'group' ? ` of ${(info.config['members'] as string[]).join(', ')}` : ''})`);
    lines.push(`    ${info.url}`);
    for (const line of registry.clientConfig(info)) lines.push(`    ${line}`);
  }
  for (const u of registry.unavailable) lines.push(`  unavailable: ${u.name}: ${u.reason}`);
  for (const p of registry.plugins.records.filter((r) => r.status === 'refused' || r.status === 'failed')) {
    lines.push(`  plugin ${p.status}: ${describePlugin(p)}: ${p.reason}`);
  }
  console.log(lines.join('\n'));
}
