import { defaultRepository } from '../config/load-config.js';
import type { PluginHost } from '../plugins/plugin-host.js';
import type { RegistryConfig, RepositoryConfig } from '../config/types.js';

const DEFAULT_NAMES = { hosted: (f: string) => `${f}-local`, proxy: (f: string) => `${f}-proxy`, group: (f: string) => f };

/** The zero-config default: for each active format a hosted, a proxy (when the format has a default upstream) and a group. */
export async function zeroConfigRepositories(plugins: PluginHost, config: RegistryConfig): Promise<Record<string, RepositoryConfig>> {
  const repositories: Record<string, RepositoryConfig> = {};
  for (const [format, { definition }] of plugins.formats) {
    const members: string[] = [];
    repositories[DEFAULT_NAMES.hosted(format)] = defaultRepository({ format, type: 'hosted' }, config.limits);
    members.push(DEFAULT_NAMES.hosted(format));
    const upstream = await definition.defaultUpstream?.();
    if (upstream) {
      repositories[DEFAULT_NAMES.proxy(format)] = defaultRepository({ format, type: 'proxy', upstream }, config.limits);
      members.push(DEFAULT_NAMES.proxy(format));
    }
    repositories[DEFAULT_NAMES.group(format)] = defaultRepository({ format, type: 'group', members }, config.limits);
  }
  return repositories;
}

/**
 * The configured repositories, each proxy without an `upstream` given its format's default
 * (FormatDefinition.defaultUpstream). A proxy whose format has none keeps no upstream and is
 * reported unavailable by buildRepositories.
 */
export async function withDefaultUpstreams(plugins: PluginHost, repositories: RegistryConfig['repositories']): Promise<Record<string, RepositoryConfig>> {
  const filled: Record<string, RepositoryConfig> = { ...repositories };
  for (const [name, repo] of Object.entries(repositories)) {
    if (repo.type !== 'proxy' || repo.upstream !== undefined) continue;
    const upstream = await plugins.formats.get(repo.format)?.definition.defaultUpstream?.();
    if (upstream) filled[name] = { ...repo, upstream };
  }
  return filled;
}
