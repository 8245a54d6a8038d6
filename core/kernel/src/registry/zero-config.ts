import type { DefaultUpstream, DefaultUpstreams, Logger } from '@registry-core/api';
import { defaultRepository } from '../config/load-config.js';
import { selfUpstream } from '../engine/self-upstream.js';
import type { PluginHost } from '../plugins/plugin-host.js';
import type { RegistryConfig, RepositoryConfig } from '../config/types.js';

const DEFAULT_NAMES = { hosted: (f: string) => `${f}-local`, proxy: (f: string) => `${f}-proxy`, group: (f: string) => f };

/**
 * The zero-config default: for each active format a hosted, a proxy (when the format has a
 * default upstream that is not this registry itself) and a group.
 */
export async function zeroConfigRepositories(plugins: PluginHost, config: RegistryConfig, logger?: Logger): Promise<Record<string, RepositoryConfig>> {
  const repositories: Record<string, RepositoryConfig> = {};
  for (const [format, { definition }] of plugins.formats) {
    const members: string[] = [];
    repositories[DEFAULT_NAMES.hosted(format)] = defaultRepository({ format, type: 'hosted' }, config.limits);
    members.push(DEFAULT_NAMES.hosted(format));
    const upstream = await pickUpstream(DEFAULT_NAMES.proxy(format), await definition.defaultUpstream?.(), config, logger);
    if (upstream) {
      repositories[DEFAULT_NAMES.proxy(format)] = defaultRepository({ format, type: 'proxy', upstream }, config.limits);
      members.push(DEFAULT_NAMES.proxy(format));
    }
    repositories[DEFAULT_NAMES.group(format)] = defaultRepository({ format, type: 'group', members }, config.limits);
  }
  return repositories;
}

/**
 * The first candidate that is not this registry: a client configured as the start banner
 * says (its registry, index or mirror pointing here) would otherwise make the proxy ask
 * itself. Whatever is passed over is said, with what is used instead.
 */
async function pickUpstream(proxy: string, given: DefaultUpstreams, config: RegistryConfig, logger: Logger | undefined): Promise<string | undefined> {
  const candidates: readonly DefaultUpstream[] = typeof given === 'string' ? [{ url: given, source: 'the format\'s default' }] : (given ?? []);
  const listening = { host: config.server.host, ports: config.server.port > 0 ? [config.server.port] : [], publicUrl: config.server.publicUrl };
  const passed: string[] = [];
  for (const candidate of candidates) {
    const why = await selfUpstream(candidate.url, listening);
    if (!why) {
      if (passed.length) logger?.warn(`${proxy}: ${passed.join('; ')}; using ${candidate.url} (${candidate.source}) instead`);
      return candidate.url;
    }
    passed.push(`the upstream ${candidate.url} from ${candidate.source} is this registry itself (${why})`);
  }
  if (passed.length) logger?.warn(`${proxy}: not made: ${passed.join('; ')}, and no other upstream is known; configure one in a config file`);
  return undefined;
}

/**
 * The configured repositories, each proxy without an `upstream` given its format's default
 * (FormatDefinition.defaultUpstream, its first candidate that is not this registry). A proxy
 * whose format has none keeps no upstream and is reported unavailable by buildRepositories.
 */
export async function withDefaultUpstreams(plugins: PluginHost, config: RegistryConfig, logger?: Logger): Promise<Record<string, RepositoryConfig>> {
  const filled: Record<string, RepositoryConfig> = { ...config.repositories };
  for (const [name, repo] of Object.entries(config.repositories)) {
    if (repo.type !== 'proxy' || repo.upstream !== undefined) continue;
    const upstream = await pickUpstream(name, await plugins.formats.get(repo.format)?.definition.defaultUpstream?.(), config, logger);
    if (upstream) filled[name] = { ...repo, upstream };
  }
  return filled;
}
