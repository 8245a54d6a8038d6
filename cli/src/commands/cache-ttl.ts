import { InvalidArgumentError, type Command } from 'commander';
import { TtlOverrides, type LoadedConfig } from '@registry-core/kernel';
import { commandGroup } from '../command-group.js';
import { withMetadata } from '../runtime.js';

/** `cache ttl set|unset|list`: per-artifact TTL overrides of proxies. */
export function registerCacheTtlCommands(program: Command): void {
  const ttl = commandGroup(program, 'cache', 'proxy cache upkeep').command('ttl').description("per-artifact TTL overrides of proxies (a path, or a prefix ending in '*')");
  const withTtls = <T>(options: { config?: string }, work: (ttls: TtlOverrides, config: LoadedConfig['config']) => Promise<T>): Promise<T> =>
    withMetadata(options, (metadata, config) => work(new TtlOverrides(metadata), config));
  const proxyNamed = (config: LoadedConfig['config'], name: string) => {
    const repo = config.repositories[name];
    if (!repo || repo.type !== 'proxy') throw new InvalidArgumentError(`${name} is not a proxy repository in this config`);
  };
  ttl
    .command('set <repository> <pattern> <seconds>')
    .description('cache what matches for this many seconds before asking the upstream again')
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string, pattern: string, seconds: string, options: { config?: string }) => {
      const n = Number(seconds);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('seconds must be a non-negative integer');
      await withTtls(options, async (ttls, config) => {
        proxyNamed(config, repository);
        await ttls.set(repository, pattern, n);
      });
      console.log(`${repository} ${pattern}: ${n} s (in force within 10 s on running servers)`);
    });
  ttl
    .command('unset <repository> <pattern>')
    .description('remove an override')
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string, pattern: string, options: { config?: string }) => {
      const removed = await withTtls(options, (ttls) => ttls.unset(repository, pattern));
      if (!removed) throw new Error(`no override ${pattern} in ${repository}`);
      console.log(`${repository} ${pattern}: override removed`);
    });
  ttl
    .command('list [repository]')
    .description('show overrides')
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string | undefined, options: { config?: string }) => {
      const overrides = await withTtls(options, (ttls) => ttls.list(repository));
      if (overrides.length === 0) console.log(`no TTL overrides${repository ? ` in ${repository}` : ''} (add one with: registry-core cache ttl set REPOSITORY PATH-OR-PREFIX* SECONDS)`);
      for (const o of overrides) console.log(`${o.repository}\t${o.pattern}\t${o.seconds}`);
    });
}
