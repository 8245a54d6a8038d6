import type { PluginHost } from '../plugins/plugin-host.js';
import type { RegistryConfig, RepositoryConfig } from '../config/types.js';

const DEFAULT_NAMES = { hosted: (f: string) => `${f}-local`, proxy: (f: string) => `${f}-proxy`, group: (f: string) => f };

/** The zero-config default: for each active format a hosted, a proxy (when the format has a default upstream) and a group. */
export async function zeroConfigRepositories(plugins: PluginHost, config: RegistryConfig): Promise<Record<string, RepositoryConfig>> {
  const repositories: Record<string, RepositoryConfig> = {};
  const base = {
    storage: 'default',
    maxUploadBytes: config.limits.maxUploadBytes,
    cache: {
      metadataTtl: 300,
      negativeTtl: 60,
      connectTimeoutMs: 10_000,
      upstreamTimeoutMs: 30_000,
      idleTimeoutMs: 60_000,
      retries: 2,
      breakerThreshold: 5,
      breakerOpenMs: 30_000,
      staleWhileRevalidate: 0,
      honorCacheControl: false,
    },
  };
  for (const [format, { definition }] of plugins.formats) {
    const members: string[] = [];
    repositories[DEFAULT_NAMES.hosted(format)] = { ...base, format, type: 'hosted' };
    members.push(DEFAULT_NAMES.hosted(format));
    const upstream = await definition.defaultUpstream?.();
    if (upstream) {
      repositories[DEFAULT_NAMES.proxy(format)] = { ...base, format, type: 'proxy', upstream };
      members.push(DEFAULT_NAMES.proxy(format));
    }
    repositories[DEFAULT_NAMES.group(format)] = { ...base, format, type: 'group', members };
  }
  return repositories;
}
