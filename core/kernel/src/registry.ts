import { DerivedMemory } from './engine/derived-cache.js';
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  isRegistryError,
  UnauthorizedError,
  type AuthProvider,
  type FormatAuthService,
  type FormatDefinition,
  type Logger,
  type ProviderEnvironment,
  type RepositoryHandle,
  type RepositoryServices,
  type RepositoryInfo,
} from '@registry-core/api';
import { AuthService } from './auth/auth-service.js';
import type { CacheConfig, LoadedConfig, RegistryConfig, RepositoryConfig } from './config/types.js';
import { defaultRepository } from './config/load-config.js';
import { RepositoryAssetStore } from './engine/asset-store.js';
import { KernelUploadSessions, sweepUploads } from './engine/upload-sessions.js';
import { BlobStore } from './engine/blob-store.js';
import { BlobMemoryCache } from './engine/memory-cache.js';
import { RepositoryComponentIndex } from './engine/component-index.js';
import { RepositoryDocumentStore } from './engine/document-store.js';
import { KeyedMutex, SingleFlight } from './engine/keyed-mutex.js';
import { NamespacedKeyValueStore } from './engine/kv-store.js';
import { KernelProxyCache } from './engine/proxy-cache.js';
import { CacheMaintenance } from './engine/maintenance.js';
import { copyStorage, type CopySummary } from './engine/storage-copy.js';
import { TtlOverrides } from './engine/ttl-overrides.js';
import type { ProxyStats } from './engine/upstream-health.js';
import { Dispatcher, type RepositoryRuntime } from './http/dispatcher.js';
import { FormatRouter } from './http/format-router.js';
import { HotAnswers } from './http/hot-answers.js';
import { HttpHost } from './http/server.js';
import { StructuredLogger } from './logging/logger.js';
import { MetadataStore } from './metadata/metadata-store.js';
import { PluginHost, type PluginRecord } from './plugins/plugin-host.js';
import { discoverFirstPartyPlugins, resolvePlugin } from './plugins/plugin-resolver.js';

export interface RegistryOptions {
  readonly logger?: Logger;
  /**
   * Folders plugins are also looked up from after the config file's folder: the
   * registry-core installation, so first-party plugins work from a config anywhere.
   */
  readonly pluginSearchDirs?: readonly string[];
}

/** A repository the registry could not serve, and why. */
export interface UnavailableRepository {
  readonly name: string;
  readonly reason: string;
}

const DEFAULT_NAMES = { hosted: (f: string) => `${f}-local`, proxy: (f: string) => `${f}-proxy`, group: (f: string) => f };

/**
 * A whole registry: plugins, storage, metadata store, auth, repositories and the HTTP
 * host, built from a loaded config. `start()` listens; `stop()` drains and closes.
 */
export class Registry {
  private address: AddressInfo | undefined;
  private cleanupTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly loaded: LoadedConfig,
    readonly config: RegistryConfig,
    readonly logger: Logger,
    readonly plugins: PluginHost,
    readonly metadata: MetadataStore,
    readonly auth: AuthService,
    readonly repositories: ReadonlyMap<string, RepositoryRuntime>,
    readonly unavailable: readonly UnavailableRepository[],
    private readonly blobStores: ReadonlyMap<string, BlobStore>,
    readonly http: HttpHost,
    private readonly dispatcher: Dispatcher,
  ) {}

  /**
   * Run one of a repository's endpoints in this process, as an administrator (the command
   * line's `registry-core call`): the format's own management endpoints (a PyPI yank, say)
   * without a server or a token. The body is given parsed (JSON routes). Resolves the
   * status and the body as the format answered, or the error it threw as status and message.
   */
  async call(repository: string, method: string, pathWithQuery: string, options: { body?: unknown; user?: string } = {}): Promise<{ status: number; body: unknown }> {
    const runtime = this.repositories.get(repository);
    if (!runtime) throw new Error(`no repository named ${repository}${this.unavailable.some((u) => u.name === repository) ? ' is available (see the start output)' : ''}`);
    const url = new URL(pathWithQuery.startsWith('/') ? pathWithQuery : `/${pathWithQuery}`, 'http://registry.invalid');
    const base = this.config.server.publicUrl ?? `http://${this.config.server.host}:${this.config.server.port}`;
    const principal = { name: options.user ?? 'cli', anonymous: false, roles: ['admin'], via: 'password' as const, readOnly: false };
    try {
      const response = await this.dispatcher.dispatch(runtime, {
        method: method.toUpperCase(),
        path: url.pathname,
        query: url.searchParams,
        headers: { accept: 'application/json' },
        principal,
        baseUrl: `${base.replace(/\/$/, '')}/${repository}/`,
        clientAddress: 'cli',
        requestId: randomUUID(),
        logger: this.logger,
        body: options.body,
      });
      const body = response.body;
      const value = body === undefined ? undefined : body.kind === 'json' || body.kind === 'text' ? body.value : `(${body.kind} body)`;
      return { status: response.status ?? 200, body: value };
    } catch (error) {
      if (isRegistryError(error)) return { status: error.status, body: { error: error.message } };
      throw error;
    }
  }

  static async create(loaded: LoadedConfig, options: RegistryOptions = {}): Promise<Registry> {
    const logger = options.logger ?? StructuredLogger.create(loaded.config.logging.level, loaded.config.logging.format);
    const searchDirs = options.pluginSearchDirs ?? [];
    const plugins = new PluginHost(logger.child({ component: 'plugins' }), loaded.configDir, searchDirs);
    plugins.inspect(loaded.config.plugins);
    const discovered = discoverFirstPartyPlugins([loaded.configDir, ...searchDirs]);
    if (loaded.zeroConfig) plugins.inspect(discovered.map((name) => ({ name, options: {} })), true);

    let config = loaded.config;
    const storageDriversUsed = new Set(Object.values(config.storage).map((s) => s.driver));
    const formatsUsed = new Set(Object.values(config.repositories).map((r) => r.format));
    const providersUsed = new Set(config.auth.providers.map((p) => p.id).filter((id) => id !== 'builtin'));
    // A driver, format or provider the config uses but no listed plugin offers comes from
    // an installed first-party package that offers it.
    addImplicitPlugins(plugins, discovered, loaded.configDir, searchDirs, { formats: formatsUsed, storageDrivers: storageDriversUsed, authProviders: providersUsed });
    await plugins.activate({ formats: formatsUsed, storageDrivers: storageDriversUsed, authProviders: providersUsed, allFormats: loaded.zeroConfig }, config);

    if (loaded.zeroConfig) config = { ...config, repositories: await zeroConfigRepositories(plugins, config) };

    const env: ProviderEnvironment = { configDir: loaded.configDir, dataDir: config.dataDir, logger };
    const metadata = await MetadataStore.open(config.metadata);
    const blobStores = new Map<string, BlobStore>();
    // One memory cache of hot small blobs for all stores (content-addressed, never stale).
    const memory = new BlobMemoryCache(config.server.memoryCacheBytes, 1024 * 1024);
    const unavailable: UnavailableRepository[] = [];
    try {
      for (const [name, storage] of Object.entries(config.storage)) {
        // Every configured store is opened, used by a repository now or not: assets written
        // before an operator moved a repository elsewhere are still read from where they are.
        const driver = plugins.storageDrivers.get(storage.driver);
        if (!driver) {
          logger.error(`storage ${name}: no plugin provides the storage driver "${storage.driver}"`);
          continue;
        }
        const { driver: _id, redirect, ...driverOptions } = storage;
        const store = new BlobStore(name, await driver.definition.create(driverOptions, env), memory, redirect, (key, work) => metadata.withClusterLock(key, work));
        blobStores.set(name, store);
        void store
          .sweepStaging()
          .then((n) => n > 0 && logger.info(`storage ${name}: removed ${n} staging objects left by an interrupted upload`))
          .catch((error: unknown) => logger.warn(`storage ${name}: could not sweep staging objects`, { error }));
      }
      const providers: AuthProvider[] = [];
      for (const p of config.auth.providers) {
        if (p.id === 'builtin') continue;
        const definition = plugins.authProviders.get(p.id);
        if (!definition) throw new Error(`auth.providers: no plugin provides the auth provider "${p.id}"`);
        const { id: _id, ...providerOptions } = p;
        providers.push(await definition.definition.create(providerOptions, env));
      }
      // Anonymous changes are almost always a mistake (attack checklist: anonymous write).
      config.auth.permissions.forEach((rule, i) => {
        for (const permission of ['write', 'delete', 'admin'] as const) {
          if (rule[permission]?.some((who) => who === '$all' || who === '$anonymous')) {
            logger.warn(`auth.permissions[${i}] lets clients without credentials ${permission} in ${rule.repositories.join(', ')}`);
          }
        }
      });
      const auth = new AuthService(config.auth, metadata, providers, (error) => logger.error('could not write the audit log', { error: String(error) }));
      await prepareTmpDir(path.join(config.dataDir, 'tmp'), logger);

      const ttls = new TtlOverrides(metadata);
      const derived = new DerivedMemory(config.server.derivedCacheBytes);
      const repositories = buildRepositories(config, plugins, metadata, blobStores, logger, unavailable, ttls, derived);
      auth.useRepositories((name) => {
        const runtime = repositories.get(name);
        if (!runtime) return undefined;
        return { ...(runtime.config.anonymousRead !== undefined ? { anonymousRead: runtime.config.anonymousRead } : {}), ...(runtime.config.members ? { members: runtime.config.members } : {}) };
      });
      const hot = new HotAnswers([...new Set([...repositories.values()].flatMap((r) => (r.format.credentialHeaders ?? []).map((h) => h.toLowerCase())))]);
      // Anything this process changes (a publish, a delete, a newly cached file) may change
      // what a URL answers, through a group's rules too: replayed answers start over.
      metadata.onChange(() => hot.clear());

      const dispatcher = new Dispatcher(repositories, auth, path.join(config.dataDir, 'tmp'));
      let registry: Registry | undefined;
      const http = new HttpHost({
        server: config.server,
        repositories,
        dispatcher,
        auth,
        logger: logger.child({ component: 'http' }),
        health: () => registry?.healthFacts() ?? {},
        stats: () => registry?.stats() ?? {},
        ttls,
        // Every request is logged at debug level, which replayed answers would skip.
        ...(config.logging.level === 'debug' ? {} : { hotAnswers: hot }),
        countHit: (repository) => {
          const upstream = repositories.get(repository)?.proxy;
          if (upstream) upstream.health.hits++;
        },
      });
      registry = new Registry(loaded, config, logger, plugins, metadata, auth, repositories, unavailable, blobStores, http, dispatcher);
      return registry;
    } catch (error) {
      await metadata.close();
      await plugins.deactivateAll();
      throw error;
    }
  }

  /** Cache upkeep (verify, clean) over this registry's stores. */
  /** Copy the blobs the metadata refers to from one configured store into another. */
  copyStorage(fromName: string, toName: string, options: Parameters<typeof copyStorage>[3] = {}): Promise<CopySummary> {
    const from = this.blobStores.get(fromName);
    const to = this.blobStores.get(toName);
    if (!from) throw new Error(`no storage named ${fromName}`);
    if (!to) throw new Error(`no storage named ${toName}`);
    if (from === to) throw new Error('--from and --to name the same storage');
    return copyStorage(this.metadata, from, to, { logger: this.logger, ...options });
  }

  get maintenance(): CacheMaintenance {
    const proxies = new Set([...this.repositories.values()].filter((r) => r.config.type === 'proxy').map((r) => r.name));
    return new CacheMaintenance(this.metadata, this.blobStores, proxies, this.logger.child({ component: 'cache' }));
  }

  /** Run the configured cleanup now (also what the schedule runs). */
  cleanCache(options: { dryRun?: boolean; unusedDays?: number; onProgress?: (message: string) => void } = {}) {
    return this.maintenance.clean({
      dryRun: options.dryRun,
      unusedDays: options.unusedDays ?? this.config.cleanup.unusedDays,
      maxCacheBytes: this.config.cleanup.maxCacheBytes,
      onProgress: options.onProgress,
    });
  }

  /** Remove upload sessions untouched for `cleanup.uploadExpiryHours`, with their bytes. */
  sweepUploads(): Promise<{ sessions: number; orphans: number }> {
    return sweepUploads(
      this.metadata,
      (name) => {
        const uploads = this.repositories.get(name)?.handle.uploads;
        return uploads instanceof KernelUploadSessions ? uploads : undefined;
      },
      this.blobStores.values(),
      this.config.cleanup.uploadExpiryHours * 3_600_000,
    );
  }

  /** The upkeep tasks formats offer, as `<format> <task>`. */
  tasks(): { format: string; name: string; description: string }[] {
    const seen = new Map<string, { format: string; name: string; description: string }>();
    for (const runtime of this.repositories.values()) {
      for (const task of runtime.format.tasks ?? []) seen.set(`${runtime.config.format} ${task.name}`, { format: runtime.config.format, name: task.name, description: task.description });
    }
    return [...seen.values()];
  }

  /**
   * Run a format's upkeep task on each of its repositories (or the one named), one node at
   * a time across the cluster. Resolves each repository's report.
   */
  async runTask(format: string, name: string, options: { repository?: string; dryRun?: boolean } = {}): Promise<{ repository: string; report: Readonly<Record<string, unknown>> }[]> {
    const targets = [...this.repositories.values()].filter((r) => r.config.format === format && (options.repository === undefined || r.name === options.repository));
    if (options.repository !== undefined && targets.length === 0) throw new Error(`no ${format} repository named ${options.repository}`);
    const task = targets.map((r) => r.format.tasks?.find((t) => t.name === name)).find((t) => t !== undefined);
    if (!task) throw new Error(`format ${format} has no task ${name}${this.tasks().length ? ` (tasks: ${this.tasks().map((t) => `${t.format} ${t.name}`).join(', ')})` : ''}`);
    const reports: { repository: string; report: Readonly<Record<string, unknown>> }[] = [];
    for (const runtime of targets) {
      const logger = this.logger.child({ task: `${format} ${name}`, repository: runtime.name });
      const report = await this.metadata.withClusterLock(`task:${format}:${name}:${runtime.name}`, () => task.run(runtime.handle, { dryRun: options.dryRun ?? false, logger }));
      reports.push({ repository: runtime.name, report });
    }
    return reports;
  }

  private readonly taskTimers: NodeJS.Timeout[] = [];

  /** Listen; resolves the bound address. */
  async start(): Promise<AddressInfo> {
    this.address = await this.http.listen();
    const sweep = () => this.sweepUploads().then(
      (n) => (n.sessions > 0 || n.orphans > 0) && this.logger.info(`removed ${n.sessions} expired upload sessions and ${n.orphans} orphaned upload objects`),
      (error: unknown) => this.logger.warn('upload session sweep failed', { error: String(error) }),
    );
    void sweep();
    this.taskTimers.push(setInterval(() => void sweep(), 3_600_000));
    const scheduled = new Map<string, { format: string; task: import('@registry-core/api').FormatTask }>();
    for (const runtime of this.repositories.values()) {
      for (const task of runtime.format.tasks ?? []) if (task.intervalSeconds) scheduled.set(`${runtime.config.format}\n${task.name}`, { format: runtime.config.format, task });
    }
    for (const { format, task } of scheduled.values()) {
      this.taskTimers.push(
        setInterval(() => {
          this.runTask(format, task.name).catch((error: unknown) => this.logger.warn(`scheduled task ${format} ${task.name} failed`, { error: String(error) }));
        }, task.intervalSeconds! * 1000),
      );
    }
    for (const timer of this.taskTimers) timer.unref();
    const hours = this.config.cleanup.intervalHours;
    if (hours > 0) {
      this.cleanupTimer = setInterval(() => {
        this.cleanCache().catch((error: unknown) => this.logger.warn('scheduled cache cleanup failed', { error }));
      }, hours * 3_600_000);
      this.cleanupTimer.unref();
    }
    for (const runtime of this.repositories.values()) {
      await runtime.format.onRepositoryReady?.(runtime.handle);
    }
    return this.address;
  }

  /** Repository facts with URLs as seen from the server's own address. */
  repositoryInfos(): RepositoryInfo[] {
    return [...this.repositories.values()].map((r) => this.http.info(undefined, r));
  }

  /** The client configuration lines a format offers for a repository. */
  clientConfig(info: RepositoryInfo): readonly string[] {
    return this.repositories.get(info.name)?.format.clientConfig?.(info) ?? [];
  }

  /** Hit, miss, stale and upstream counters and breaker state of every proxy. */
  stats(): Record<string, ProxyStats> {
    const out: Record<string, ProxyStats> = {};
    for (const runtime of this.repositories.values()) {
      if (runtime.proxy) out[runtime.name] = runtime.proxy.health.snapshot();
    }
    return out;
  }

  healthFacts(): Record<string, unknown> {
    return {
      upstreams: Object.fromEntries(Object.entries(this.stats()).map(([name, s]) => [name, s.breaker.state])),
      repositories: [...this.repositories.values()].map((r) => ({ name: r.name, format: r.config.format, type: r.config.type })),
      unavailable: this.unavailable,
      plugins: this.plugins.records.map((p: PluginRecord) => ({ name: p.name, version: p.version, status: p.status, ...(p.reason ? { reason: p.reason } : {}) })),
    };
  }

  /** Drain HTTP, deactivate plugins, close storage and the database. */
  async stop(): Promise<void> {
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    for (const timer of this.taskTimers) clearInterval(timer);
    await this.http.close();
    // Downloads the proxies are still storing finish (clients gone or not), within the same bound.
    const downloads = [...this.repositories.values()].flatMap((r) => (r.proxy ? [r.proxy.settled()] : []));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(downloads),
      new Promise((resolve) => (timer = setTimeout(resolve, this.config.server.shutdownTimeoutSeconds * 1000))),
    ]);
    clearTimeout(timer);
    await Promise.all([...this.repositories.values()].map((r) => r.proxy?.close()));
    await this.plugins.deactivateAll();
    for (const store of this.blobStores.values()) await store.driver.close?.();
    await this.metadata.close();
  }
}

function addImplicitPlugins(
  plugins: PluginHost,
  discovered: readonly string[],
  configDir: string,
  searchDirs: readonly string[],
  used: { formats: Set<string>; storageDrivers: Set<string>; authProviders: Set<string> },
): void {
  const points = [
    ['formats', used.formats],
    ['storageDrivers', used.storageDrivers],
    ['authProviders', used.authProviders],
  ] as const;
  for (const [point, ids] of points) {
    const offered = plugins.offered(point);
    for (const id of ids) {
      if (offered.has(id)) continue;
      for (const name of discovered) {
        try {
          const resolved = resolvePlugin(name, configDir, searchDirs);
          const block = resolved.packageJson['registryCore'] as { contributes?: Record<string, { id: string }[]> } | undefined;
          if (block?.contributes?.[point]?.some((c) => c.id === id)) {
            plugins.inspect([{ name, options: {} }], true);
            break;
          }
        } catch {
          // unreadable: skip
        }
      }
    }
  }
}

/** The zero-config default: for each active format a hosted, a proxy (when the format has a default upstream) and a group. */
async function zeroConfigRepositories(plugins: PluginHost, config: RegistryConfig): Promise<Record<string, RepositoryConfig>> {
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

function buildRepositories(
  config: RegistryConfig,
  plugins: PluginHost,
  metadata: MetadataStore,
  blobStores: ReadonlyMap<string, BlobStore>,
  logger: Logger,
  unavailable: UnavailableRepository[],
  ttls: TtlOverrides,
  derived: DerivedMemory,
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
    const types = format.plugin.manifest?.contributes.formats?.find((f) => f.id === repo.format)?.repositoryTypes ?? [];
    if (!types.includes(repo.type)) {
      skip(name, `format ${repo.format} does not support ${repo.type} repositories`);
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
    try {
      format.definition.validateRepository?.({ name, format: repo.format, type: repo.type, url: '', config: effective });
    } catch (error) {
      skip(name, `invalid configuration: ${(error as Error).message}`);
      continue;
    }
    const assets = new RepositoryAssetStore(name, blobs, metadata, (storage) => blobStores.get(storage));
    const repoLogger = logger.child({ repository: name });
    const services: RepositoryServices = {
      name,
      format: repo.format,
      config: effective,
      limits: { maxUploadBytes: repo.maxUploadBytes, maxSearchResults: config.limits.maxSearchResults },
      assets,
      documents: new RepositoryDocumentStore(name, metadata),
      components: new RepositoryComponentIndex(name, metadata),
      kv: new NamespacedKeyValueStore(`${format.plugin.name}:${name}`, metadata),
      uploads: new KernelUploadSessions(name, blobs, assets, metadata),
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
      proxy = new KernelProxyCache(name, repo.upstream!, scope.cache, assets, metadata, flights, repoLogger, ttls, path.join(config.dataDir, 'tmp'), scope.basePath, repo.upstreamAuth);
      handle = { ...services, type: 'proxy', upstream: proxy };
    } else {
      handle = { ...services, type: repo.type };
    }
    let router = routers.get(repo.format);
    if (!router) {
      router = new FormatRouter(format.definition.routes);
      routers.set(repo.format, router);
    }
    runtimes.set(name, { name, config: effective, format: format.definition, router, handle, ...(proxy ? { proxy } : {}) });
  }
  return runtimes;
}

/**
 * Create the folder for request spills and download spools, and remove spools an
 * interrupted process left behind (an hour old, so another process's live ones stay).
 */
async function prepareTmpDir(dir: string, logger: Logger): Promise<void> {
  await mkdir(dir, { recursive: true });
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith('incoming-')) continue;
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > 3_600_000 && (await unlink(file).then(() => true, () => false))) removed++;
  }
  if (removed > 0) logger.info(`removed ${removed} download spools left by an interrupted process`);
}

/** A proxy's upstream settings, widened as its format declares (see FormatDefinition.upstreamScope). */
function widenedUpstream(format: FormatDefinition, upstream: string, cache: CacheConfig): { cache: CacheConfig; basePath?: string } {
  const scope = format.upstreamScope?.(upstream) ?? {};
  const widened: CacheConfig = scope.origins?.length ? { ...cache, allowedOrigins: [...(cache.allowedOrigins ?? []), ...scope.origins] } : cache;
  return { cache: widened, ...(scope.basePath !== undefined ? { basePath: scope.basePath } : {}) };
}
