import type { Command } from 'commander';
import { load } from '../runtime.js';
import { serverAddress } from '../server-record.js';

/** `status`: a running server's health and its proxies' upstream state and counters. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description("a running server's health and, per proxy, its upstream's state (circuit breaker) and cache counters")
    .option('-c, --config <file>', 'config file (the server is the one running on its data folder, else at server.publicUrl or server.host/port)')
    .option('--url <url>', 'address of the running server (instead of the config)')
    .option('--json', 'print JSON')
    .action(async (options: { config?: string; url?: string; json?: boolean }) => {
      let base = options.url;
      if (!base) {
        // The server recorded in the data folder (whatever its --port), else the config's address.
        const { config } = await load(options);
        const address = serverAddress(config);
        if (address.from === 'config') console.error(`no server is recorded as running on ${config.dataDir}; asking the config's address`);
        base = address.url;
      }
      base = base.replace(/\/+$/, '');
      let health: { status: string; upstreams?: Record<string, string> };
      let stats: { repositories: Record<string, { hits: number; misses: number; stale: number; negativeHits: number; upstreamRequests: number; upstreamErrors: number; breaker: { state: string; consecutiveFailures: number; openUntil?: string } }> };
      try {
        const healthAnswer = await fetch(`${base}/-/health`, { signal: AbortSignal.timeout(10_000) });
        health = (await healthAnswer.json()) as typeof health;
        stats = (await (await fetch(`${base}/-/stats`, { signal: AbortSignal.timeout(10_000) })).json()) as typeof stats;
      } catch (error) {
        console.error(`registry-core at ${base} does not answer: ${(error as Error).message}`);
        process.exitCode = 2;
        return;
      }
      const proxies = Object.entries(stats.repositories);
      const degraded = proxies.some(([, p]) => p.breaker.state !== 'closed');
      if (options.json) console.log(JSON.stringify({ url: base, status: health.status, proxies: stats.repositories }, null, 2));
      else {
        console.log(`${base}: ${health.status}`);
        for (const [name, p] of proxies) {
          const breaker = p.breaker.state === 'closed' ? 'upstream ok' : `upstream ${p.breaker.state} after ${p.breaker.consecutiveFailures} failures${p.breaker.openUntil ? ` (next probe ${p.breaker.openUntil})` : ''}`;
          console.log(`  ${name.padEnd(24)} ${breaker.padEnd(20)} hits ${p.hits}, misses ${p.misses}, stale ${p.stale}, negative ${p.negativeHits}, upstream requests ${p.upstreamRequests}, errors ${p.upstreamErrors}`);
        }
      }
      // 0: healthy; 1: serving, but an upstream is blocked or the server is draining.
      process.exitCode = health.status === 'ok' && !degraded ? 0 : 1;
    });
}
