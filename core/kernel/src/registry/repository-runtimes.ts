import path from 'node:path';
import type { FormatCapability, FormatDefinition, Logger, RepositoryHandle, RepositoryServices, UploadSessions } from '@registry-core/api';
import type { CacheConfig, RegistryConfig } from '../config/types.js';
import { RepositoryAssetStore } from '../engine/asset-store.js';
import type { BlobStore } from '../engine/blob-store.js';
import type { ConnectionSlots } from '../engine/connection-slots.js';
import { RepositoryComponentIndex } from '../engine/component-index.js';
import type { DerivedMemory } from '../engine/derived-cache.js';
import type { MetadataMemory } from '../engine/metadata-memory.js';
import { RepositoryDocumentStore } from '../engine/document-store.js';
import { KeyedMutex, SingleFlight } from '../engine/keyed-mutex.js';
import { NamespacedKeyValueStore } from '../engine/kv-store.js';
import { KernelProxyCache } from '../engine/proxy-cache.js';
import type { TtlOverrides } from '../engine/ttl-overrides.js';
import { KernelUploadSessions } from '../engine/upload-sessions.js';
import { repositoryInfo, type RepositoryFacts, type RepositoryRuntime } from '../http/dispatcher.js';
import { FormatRouter } from '../http/format-router.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { PluginHost } from '../plugins/plugin-host.js';

/** Largest metadata document of a format that declares none (FormatDefinition.maxMetadataBytes). */
const DEFAULT_MAX_METADATA_BYTES = 64 * 1024 * 1024;

/** A repository the registry could not serve, and why. */
export interface UnavailableRepository {
  readonly name: string;
  readonly reason: string;
}

/**
 * Each configured repository as the kernel serves it: its format, router, storage and the
 * services the format gets (a proxy's cache too), members before the groups that contain
 * them. A repository that cannot be served is left out and listed in `unavailable`.
 */
export function buildRepositories(
  config: RegistryConfig,
  plugins: PluginHost,
  metadata: MetadataStore,
  blobStores: ReadonlyMap<string, BlobStore>,
  logger: Logger,
  unavailable: UnavailableRepository[],
  ttls: TtlOverrides,
  derived: DerivedMemory,
  memory: MetadataMemory,
  /** What every proxy shares: the registry-wide connection limit and the `Via` loop marker. */
  upstreamShared: { readonly globalSlots?: ConnectionSlots; readonly via?: string } = {},
): Map<string, RepositoryRuntime> {
  const flights = new SingleFlight();
  const locks = new KeyedMutex();
  const runtimes = new Map<string, RepositoryRuntime>();
  const routers = new Map<string, FormatRouter>();
  const skip = (name: string, reason: string) => {
    unavailable.push({ name, reason });
    logger.error(`repository ${name} is unavailable: ${reason}`);
  };
  // Members before the groups that contain them (config validation rules out cycles).
  const depth = (name: string, seen: Set<string> = new Set()): number => {
    const repo = config.repositories[name];
    if (!repo || repo.type !== 'group' || seen.has(name)) return 0;
    seen.add(name);
    return 1 + Math.max(0, ...(repo.members ?? []).map((m) => depth(m, seen)));
  };
  const ordered = Object.entries(config.repositories).sort(([a], [b]) => depth(a) - depth(b));
  for (const [name, repo] of ordered) {
    const format = plugins.formats.get(repo.format);
    if (!format) {
      skip(name, `no active plugin provides format "${repo.format}"`);
      continue;
    }
    const declared = format.plugin.manifest?.contributes.formats?.find((f) => f.id === repo.format);
    const types = declared?.repositoryTypes ?? [];
    const capabilities = new Set<FormatCapability>(declared?.capabilities ?? []);
    if (!types.includes(repo.type)) {
      skip(name, `format ${repo.format} does not support ${repo.type} repositories`);
      continue;
    }
    if (repo.type === 'proxy' && repo.upstream === undefined) {
      skip(name, `upstream: required (format ${repo.format} has no default upstream)`);
      continue;
    }
    const blobs = blobStores.get(repo.storage);
    if (!blobs) {
      skip(name, `storage "${repo.storage}" is not available`);
      continue;
    }
    // A group missing a member is not served at all: without a hosted member it could hand
    // private names to an upstream (dependency confusion).
    const missing = (repo.members ?? []).filter((m) => !runtimes.has(m));
    if (repo.type === 'group' && missing.length > 0) {
      skip(name, `member${missing.length > 1 ? 's' : ''} ${missing.join(', ')} unavailable`);
      continue;
    }
    const effective = repo;
    const memberFacts = (repo.members ?? []).map((m) => runtimes.get(m)!.facts);
    const facts: RepositoryFacts = {
      takesWrites: repo.type === 'hosted' || memberFacts.some((f) => f.takesWrites),
      reachesUpstream: repo.type === 'proxy' || memberFacts.some((f) => f.reachesUpstream),
    };
    try {
      format.definition.validateRepository?.(repositoryInfo({ name, config: effective, facts }, ''));
    } catch (error) {
      skip(name, `invalid configuration: ${(error as Error).message}`);
      continue;
    }
    const assets = new RepositoryAssetStore(name, blobs, metadata, (storage) => blobStores.get(storage), memory);
    const repoLogger = logger.child({ repository: name });
    const services: RepositoryServices = {
      name,
      format: repo.format,
      config: effective,
      limits: {
        maxUploadBytes: repo.maxUploadBytes,
        maxSearchResults: config.limits.maxSearchResults,
        maxMetadataBytes: repo.cache.maxMetadataBytes ?? format.definition.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES,
      },
      assets,
      documents: new RepositoryDocumentStore(name, metadata),
      components: new RepositoryComponentIndex(name, metadata),
      kv: new NamespacedKeyValueStore(`${format.plugin.name}:${name}`, metadata),
      uploads: capabilities.has('uploads') ? new KernelUploadSessions(name, blobs, assets, metadata) : undeclared<UploadSessions>(repo.format, 'uploads'),
      derived: derived.forRepository(name),
      withLock: (lock, work) => {
        const key = `lock\n${name}\n${lock}`;
        return locks.run(key, () => metadata.withClusterLock(key, work));
      },
    };
    let proxy: KernelProxyCache | undefined;
    let handle: RepositoryHandle;
    if (repo.type === 'proxy') {
      const scope = widenedUpstream(format.definition, repo.upstream!, repo.cache);
      proxy = new KernelProxyCache(name, repo.upstream!, scope.cache, assets, metadata, flights, repoLogger, ttls, path.join(config.dataDir, 'tmp'), scope.basePath, repo.upstreamAuth, upstreamShared);
      handle = { ...services, type: 'proxy', upstream: proxy };
    } else {
      handle = { ...services, type: repo.type };
    }
    let router = routers.get(repo.format);
    if (!router) {
      router = new FormatRouter(format.definition.routes);
      routers.set(repo.format, router);
    }
    runtimes.set(name, { name, config: effective, format: format.definition, capabilities, router, handle, facts, ...(proxy ? { proxy } : {}) });
  }
  return runtimes;
}

/** A proxy's upstream settings, widened as its format declares (see FormatDefinition.upstreamScope). */
function widenedUpstream(format: FormatDefinition, upstream: string, cache: CacheConfig): { cache: CacheConfig; basePath?: string } {
  const scope = format.upstreamScope?.(upstream) ?? {};
  const widened: CacheConfig = scope.origins?.length ? { ...cache, allowedOrigins: [...(cache.allowedOrigins ?? []), ...scope.origins] } : cache;
  return { cache: widened, ...(scope.basePath !== undefined ? { basePath: scope.basePath } : {}) };
}

/**
 * A part of the contract the format did not declare in its manifest (`capabilities`): every
 * use is a programming error of the plugin, reported as such.
 */
export function undeclared<T extends object>(format: string, capability: FormatCapability): T {
  return new Proxy({} as T, {
    get: (_target, property) => {
      if (typeof property === 'symbol' || property === 'then') return undefined;
      return () => {
        throw new Error(`format ${format} uses ${capability} (${String(property)}) without declaring the "${capability}" capability in its manifest`);
      };
    },
  });
}
