import cluster from 'node:cluster';
import type { Command } from 'commander';
import { ClusterPrimary, MetadataStore, StructuredLogger, WorkerLink, capYoungGeneration, setHeapGrowth, type LoadedConfig } from '@registry-core/kernel';
import { bannerLines } from '../client-setup.js';
import { port } from '../arguments.js';
import { createRegistry, load, version } from '../runtime.js';
import { localUrl, removeServerRecord, writeServerRecord } from '../server-record.js';

interface StartOptions {
  config?: string;
  port?: number;
  host?: string;
  verbose?: boolean;
}

/** `start`: run the server until SIGINT or SIGTERM, after printing where to point clients. */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('start the registry (zero-config default when no config file is found)')
    .option('-c, --config <file>', 'config file (default: REGISTRY_CORE_CONFIG, else registry-core.config.* or .registry-corerc in this folder)')
    .option('-p, --port <port>', 'port to listen on (overrides server.port, PORT and REGISTRY_CORE_SERVER__PORT)', port)
    .option('-H, --host <host>', 'address to listen on (overrides server.host, HOST and REGISTRY_CORE_SERVER__HOST)')
    .option('--verbose', "print every repository's client configuration lines (as `registry-core setup` does)")
    .action(async (options: StartOptions) => {
      const loaded = await load(options);
      if (cluster.isPrimary && loaded.config.server.workers > 1) await startPrimary(loaded);
      else await startServer(loaded, options);
    });
}

/** One process serving (the default), or one worker of `server.workers` (its primary writes the server record). */
async function startServer(loaded: LoadedConfig, options: StartOptions): Promise<void> {
  const worker = WorkerLink.current();
  // Before building the registry, whose loading is the first burst of allocation
  // (server.heapGrowthPercent, server.youngGenerationSize).
  setHeapGrowth(loaded.config.server.heapGrowthPercent);
  capYoungGeneration(loaded.config.server.youngGenerationBytes);
  const registry = await createRegistry(loaded, { server: true });
  // What loading it allocated goes back before traffic arrives (server.releaseMemoryWhenIdle).
  await registry.releaseStartMemory();
  const address = await registry.start();
  const { dataDir, server } = registry.config;
  // `status` and `setup` find this server through its data folder, whatever its port.
  if (!worker) writeServerRecord(dataDir, { pid: process.pid, url: localUrl(server.host, address.port), port: address.port, startedAt: new Date().toISOString(), version });
  // With workers, the first one prints the banner for all.
  if (!worker || worker.leader) {
    const workers = worker ? ` with ${server.workers} workers` : '';
    const head = `registry-core ${version} listening on port ${address.port}${workers} (${loaded.filepath ? `config ${loaded.filepath}` : 'zero-config default'})`;
    console.log(bannerLines(registry, loaded, head, options.verbose ?? false).join('\n'));
  }
  worker?.ready(address.port);
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) {
      // A worker hears the terminal's signal and its primary's request both: one drain.
      if (worker) return;
      registry.logger.warn(`second ${why}: exiting now`);
      process.exit(1);
    }
    stopping = true;
    registry.logger.info(`${why} received: finishing in-flight requests`);
    if (!worker) removeServerRecord(dataDir);
    await registry.stop();
    registry.logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  worker?.onStop(() => void stop('stop request'));
}

/**
 * `server.workers` > 1: this process migrates the metadata store once, forks the workers
 * (which serve), restarts those that die, and on SIGINT/SIGTERM has them all drain.
 */
async function startPrimary(loaded: LoadedConfig): Promise<void> {
  const { dataDir, server, logging, metadata } = loaded.config;
  const logger = StructuredLogger.create(logging.level, logging.format).child({ component: 'cluster' });
  // Once, before any worker opens the store (workers open it without migrating).
  await (await MetadataStore.open(metadata)).close();
  const primary = new ClusterPrimary({
    workers: server.workers,
    logger,
    shutdownTimeoutSeconds: server.shutdownTimeoutSeconds,
    onReady: (port) => writeServerRecord(dataDir, { pid: process.pid, url: localUrl(server.host, port), port, startedAt: new Date().toISOString(), version }),
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn(`second ${signal}: killing the workers`);
      primary.kill();
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal} received: the workers finish their in-flight requests`);
    removeServerRecord(dataDir);
    await primary.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    await primary.start();
  } catch (error) {
    logger.error(String(error instanceof Error ? error.message : error));
    process.exit(1);
  }
}
