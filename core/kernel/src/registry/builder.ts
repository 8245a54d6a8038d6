// tsyringe refuses to load without the Reflect metadata API, even with explicit tokens only.
import 'reflect-metadata';
import path from 'node:path';
import { container as globalContainer, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import { Tokens, type AuthProvider, type Logger, type ProviderEnvironment } from '@registry-core/api';
import { DownloadCounter } from '../analytics/download-counter.js';
import { DownloadStore } from '../analytics/download-store.js';
import { DownloadQueries, windowStart } from '../analytics/download-queries.js';
import { DownloadRecorder } from '../analytics/served-downloads.js';
import { AccessLog } from '../analytics/access-log.js';
import { RegistryMetrics } from '../analytics/metrics.js';
import { StatsApi } from '../analytics/stats-api.js';
import { statsReport, type StatsRepository } from '../analytics/stats-report.js';
import { AuthService } from '../auth/auth-service.js';
import type { LoadedConfig } from '../config/types.js';
import { BlobStore } from '../engine/blob-store.js';
import { ConnectionSlots } from '../engine/connection-slots.js';
import { DerivedMemory } from '../engine/derived-cache.js';
import { DerivedDisk } from '../engine/derived-disk.js';
import { MetadataMemory } from '../engine/metadata-memory.js';
import { BlobMemoryCache } from '../engine/memory-cache.js';
import { LoopMarker } from '../engine/self-upstream.js';
import { prepareTmpDir } from '../engine/tmp-dir.js';
import { TtlOverrides } from '../engine/ttl-overrides.js';
import { AccountsAdminApi } from '../http/accounts-admin-api.js';
import { AdminApi } from '../http/admin-api.js';
import { MaintenanceAdminApi } from '../http/maintenance-admin-api.js';
import { BrowseApi } from '../http/browse-api.js';
import { WebAppHost } from '../http/web-app.js';
import { WebSessions } from '../http/web-session.js';
import { Dispatcher, type RepositoryRuntime } from '../http/dispatcher.js';
import { HotAnswers } from '../http/hot-answers.js';
import { HttpHost } from '../http/server.js';
import { StructuredLogger } from '../logging/logger.js';
import { MetadataStore } from '../metadata/metadata-store.js';
import { WorkerLink } from '../cluster/worker-link.js';
import { addImplicitPlugins } from '../plugins/implicit-plugins.js';
import { PluginHost } from '../plugins/plugin-host.js';
import { discoverFirstPartyPlugins } from '../plugins/plugin-resolver.js';
import { AdminService } from './admin-service.js';
import { KernelTokens as K, resolve } from './kernel-tokens.js';
import { buildRepositories, type UnavailableRepository } from './repository-runtimes.js';
import { Scheduler } from './scheduler.js';
import { idleMemoryStats } from './idle-memory.js';
import { withDefaultUpstreams, zeroConfigRepositories } from './zero-config.js';

export interface RegistryOptions {
  readonly logger?: Logger;
  /**
   * Folders plugins are also looked up from after the config file's folder: the
   * registry-core installation, so first-party plugins work from a config anywhere.
   */
  readonly pluginSearchDirs?: readonly string[];
}

/**
 * The composition root: from a loaded config, activate the plugins it needs, open the
 * metadata store, the blob stores and the auth providers, and register every kernel
 * service in a root container of this registry's own (a child of tsyringe's global one,
 * which stays empty: several registries may live in one process). Plugins' child
 * containers hang off it. Everything is built before this resolves, so a config the
 * registry cannot serve fails here; on failure what was opened is closed again.
 */
export async function buildRegistryContainer(loaded: LoadedConfig, options: RegistryOptions = {}): Promise<DependencyContainer> {
  const root = globalContainer.createChildContainer();
  const logger = options.logger ?? StructuredLogger.create(loaded.config.logging.level, loaded.config.logging.format);
  root.register(Tokens.Logger, { useValue: logger });
  root.register(K.LoadedConfig, { useValue: loaded });

  const searchDirs = options.pluginSearchDirs ?? [];
  const plugins = new PluginHost(logger.child({ component: 'plugins' }), loaded.configDir, searchDirs, root);
  root.register(K.PluginHost, { useValue: plugins });
  plugins.inspect(loaded.config.plugins);
  const discovered = discoverFirstPartyPlugins([loaded.configDir, ...searchDirs]);
  if (loaded.zeroConfig) plugins.inspect(discovered.map((name) => ({ name, options: {} })), true);

  let config = loaded.config;
  const storageDriversUsed = new Set(Object.values(config.storage).map((s) => s.driver));
  const formatsUsed = new Set(Object.values(config.repositories).map((r) => r.format));
  const providersUsed = new Set(config.auth.providers.map((p) => p.id).filter((id) => id !== 'builtin'));
  // A driver, format or provider the config uses but no listed plugin offers comes from
  // an installed first-party package that offers it.
  const webUsed = config.web.enabled;
  addImplicitPlugins(plugins, discovered, loaded.configDir, searchDirs, { formats: formatsUsed, storageDrivers: storageDriversUsed, authProviders: providersUsed, webApps: webUsed });
  await plugins.activate({ formats: formatsUsed, storageDrivers: storageDriversUsed, authProviders: providersUsed, allFormats: loaded.zeroConfig, webApps: webUsed }, config);

  config = { ...config, repositories: loaded.zeroConfig ? await zeroConfigRepositories(plugins, config, logger) : await withDefaultUpstreams(plugins, config, logger) };
  root.register(K.Config, { useValue: config });

  const env: ProviderEnvironment = { configDir: loaded.configDir, dataDir: config.dataDir, logger };
  // A worker of `server.workers`: its primary ran the migrations before forking it.
  const worker = WorkerLink.current();
  const metadata = await MetadataStore.open(config.metadata, worker ? { migrate: false } : {});
  if (worker && config.metadata.type !== 'postgres') metadata.useProcessLocks((key) => worker.acquire(key));
  root.register(K.MetadataStore, { useValue: metadata });
  // Built first when enabled: storage drivers and the metadata store are timed from the start.
  const metrics = config.metrics.enabled
    ? new RegistryMetrics(
        () => new Map([...resolve(root, K.Repositories)].flatMap(([name, r]) => (r.proxy ? [[name, { format: r.config.format, stats: () => r.proxy!.health.snapshot() }] as const] : []))),
        async () => Number((await metadata.dataSource.query(`SELECT COUNT(*) AS n FROM document WHERE "key" LIKE '.uploads/%'`))[0]?.n ?? 0),
      )
    : undefined;
  metrics?.watchDataSource(metadata.dataSource);
  try {
    const blobStores = new Map<string, BlobStore>();
    // One memory cache of hot small blobs for all stores (content-addressed, never stale).
    const memory = new BlobMemoryCache(config.server.memoryCacheBytes, 1024 * 1024);
    root.register(K.BlobMemory, { useValue: memory });
    for (const [name, storage] of Object.entries(config.storage)) {
      // Every configured store is opened, used by a repository now or not: assets written
      // before an operator moved a repository elsewhere are still read from where they are.
      const driver = plugins.storageDrivers.get(storage.driver);
      if (!driver) {
        logger.error(`storage ${name}: no plugin provides the storage driver "${storage.driver}"`);
        continue;
      }
      const { driver: _id, redirect, ...driverOptions } = storage;
      const created = await driver.definition.create(driverOptions, env);
      const store = new BlobStore(name, metrics ? metrics.storageDriver(name, created) : created, memory, redirect, (key, work) => metadata.withClusterLock(key, work));
      blobStores.set(name, store);
      void store
        .sweepStaging()
        .then((n) => n > 0 && logger.info(`storage ${name}: removed ${n} staging objects left by an interrupted upload`))
        .catch((error: unknown) => logger.warn(`storage ${name}: could not sweep staging objects`, { error }));
    }
    root.register(K.BlobStores, { useValue: blobStores });
    const providers: AuthProvider[] = [];
    for (const p of config.auth.providers) {
      if (p.id === 'builtin') continue;
      const definition = plugins.authProviders.get(p.id);
      if (!definition) throw new Error(`auth.providers: no plugin provides the auth provider "${p.id}"`);
      const { id: _id, ...providerOptions } = p;
      providers.push(await definition.definition.create(providerOptions, env));
    }
    root.register(K.AuthProviders, { useValue: providers });
    // Anonymous changes are almost always a mistake (attack checklist: anonymous write).
    config.auth.permissions.forEach((rule, i) => {
      for (const permission of ['write', 'delete', 'admin'] as const) {
        if (rule[permission]?.some((who) => who === '$all' || who === '$anonymous')) {
          logger.warn(`auth.permissions[${i}] lets clients without credentials ${permission} in ${rule.repositories.join(', ')}`);
        }
      }
    });
    await prepareTmpDir(path.join(config.dataDir, 'tmp'), logger, config.cleanup.tmpFileGraceSeconds);
    let diskFailed = false;
    const derivedDisk =
      config.server.derivedDiskBytes > 0
        ? await DerivedDisk.create(path.join(config.dataDir, 'tmp'), config.server.derivedDiskBytes, (error) => {
            // Once: every later failure is counted in /-/stats (derived.disk.failures); answers are rendered again meanwhile.
            if (diskFailed) return;
            diskFailed = true;
            logger.warn('could not keep a rendered answer on disk (server.derivedDiskSize); rendering again instead', { error: String(error) });
          })
        : undefined;
    registerServices(root, metrics, derivedDisk);
    // Build everything now: a registry that cannot be served fails at creation.
    resolve(root, K.HttpHost);
    resolve(root, K.Scheduler);
    if (worker) shareChanges(root, worker);
    return root;
  } catch (error) {
    await metadata.close();
    await plugins.deactivateAll();
    throw error;
  }
}

/** The services built from what {@link buildRegistryContainer} opened, each once per registry. */
function registerServices(root: DependencyContainer, metrics: RegistryMetrics | undefined, derivedDisk: DerivedDisk | undefined): void {
  const once = <T>(build: (c: DependencyContainer) => T) => ({ useFactory: instanceCachingFactory<T>(build) });
  const config = resolve(root, K.Config);
  const logger = root.resolve<Logger>(Tokens.Logger);
  const tmpDir = path.join(config.dataDir, 'tmp');

  root.register(K.Auth, once((c) => {
    const auth = new AuthService(config.auth, resolve(c, K.MetadataStore), resolve(c, K.AuthProviders), (error) => logger.error('could not write the audit log', { error: String(error) }));
    const repositories = resolve(c, K.Repositories);
    auth.useRepositories((name) => {
      const runtime = repositories.get(name);
      if (!runtime) return undefined;
      return { ...(runtime.config.anonymousRead !== undefined ? { anonymousRead: runtime.config.anonymousRead } : {}), ...(runtime.config.members ? { members: runtime.config.members } : {}) };
    });
    return auth;
  }));
  root.register(K.Authentication, once((c) => resolve(c, K.Auth).authentication));
  root.register(K.Authorization, once((c) => resolve(c, K.Auth).authorization));
  root.register(K.Users, once((c) => resolve(c, K.Auth).users));
  root.register(K.UserTokens, once((c) => resolve(c, K.Auth).tokens));
  root.register(K.AccessTokens, once((c) => resolve(c, K.Auth).accessTokens));
  root.register(K.AuditLog, once((c) => resolve(c, K.Auth).audit));

  root.register(K.TtlOverrides, once((c) => new TtlOverrides(resolve(c, K.MetadataStore))));
  root.register(K.DerivedMemory, once(() => new DerivedMemory(config.server.derivedCacheBytes, derivedDisk)));
  root.register(K.MetadataMemory, once(() => new MetadataMemory(config.server.metadataMemoryBytes, config.server.metadataMemoryWaitMs)));
  root.register(K.LoopMarker, { useValue: new LoopMarker() });
  root.register(K.UpstreamSlots, { useValue: new ConnectionSlots(config.server.maxUpstreamConnections, 'server.maxUpstreamConnections') });
  const unavailable: UnavailableRepository[] = [];
  root.register(K.UnavailableRepositories, { useValue: unavailable });
  root.register(K.Repositories, once((c) =>
    buildRepositories(config, resolve(c, K.PluginHost), resolve(c, K.MetadataStore), resolve(c, K.BlobStores), logger, unavailable, resolve(c, K.TtlOverrides), resolve(c, K.DerivedMemory), resolve(c, K.MetadataMemory), {
      globalSlots: resolve(c, K.UpstreamSlots),
      via: resolve(c, K.LoopMarker).via,
    }),
  ));
  root.register(K.HotAnswers, once((c) => {
    const repositories = resolve(c, K.Repositories);
    const authentication = resolve(c, K.Authentication);
    const authorization = resolve(c, K.Authorization);
    const metadata = resolve(c, K.MetadataStore);
    const hot = new HotAnswers(
      [...new Set([...repositories.values()].flatMap((r) => (r.format.credentialHeaders ?? []).map((h) => h.toLowerCase())))],
      {
        principal: (header) => authentication.cachedTokenPrincipal(header),
        decidesAlike: (principal, decisions) => authorization.decidesAlike(principal, decisions),
      },
      // Other processes' commits: SQLite's data_version is a synchronous read of the file
      // header (every 100 ms); PostgreSQL's WAL position a query in the background (every second).
      { changedElsewhere: () => metadata.committedElsewhere(), everyMs: metadata.dataSource.options.type === 'postgres' ? 1000 : 100 },
    );
    // Anything this process changes in a repository (a publish, a delete, a newly cached
    // file) may change what its URLs answer, and its groups' (answers name what they were
    // made from): those replayed answers start over. A message about another process's
    // change can call `hot.invalidate(repository)` the same way.
    metadata.onChange((repository) => hot.invalidate(repository));
    return hot;
  }));
  root.register(K.Downloads, once((c) => new DownloadCounter(new DownloadStore(resolve(c, K.MetadataStore).dataSource), config.analytics.flushSeconds * 1000, logger.child({ component: 'analytics' }))));
  root.register(K.Dispatcher, once((c) => new Dispatcher(resolve(c, K.Repositories), resolve(c, K.Auth), tmpDir)));

  root.register(K.AdminService, once((c) => new AdminService({
    config,
    logger,
    plugins: resolve(c, K.PluginHost),
    metadata: resolve(c, K.MetadataStore),
    blobStores: resolve(c, K.BlobStores),
    repositories: resolve(c, K.Repositories),
    unavailable: resolve(c, K.UnavailableRepositories),
    dispatcher: resolve(c, K.Dispatcher),
    // The host knows the URLs (it may bind ports of its own); it is built after this service.
    repositoryInfo: (runtime) => resolve(c, K.HttpHost).info(undefined, runtime),
  })));
  root.register(K.WebSessions, once((c) => new WebSessions({
    authentication: resolve(c, K.Authentication),
    authorization: resolve(c, K.Authorization),
    tokens: resolve(c, K.UserTokens),
    sessionSeconds: Math.round(config.web.sessionHours * 3600),
    logger: logger.child({ component: 'http' }),
    audit: resolve(c, K.AuditLog),
  })));
  root.register(K.AdminApi, once((c) => new AdminApi({
    principal: (ctx) => resolve(c, K.WebSessions).principal(ctx),
    repositories: resolve(c, K.Repositories),
    authentication: resolve(c, K.Authentication),
    authorization: resolve(c, K.Authorization),
    audit: resolve(c, K.AuditLog),
    owners: resolve(c, K.Auth).owners,
    ttls: resolve(c, K.TtlOverrides),
    stats: () => resolve(c, K.AdminService).stats(),
    metadataMemory: () => resolve(c, K.MetadataMemory).stats(),
    derived: () => resolve(c, K.DerivedMemory).stats(),
    caches: () => ({ blobs: resolve(c, K.BlobMemory).stats(), contentRows: resolve(c, K.MetadataStore).contentRowCount, hotAnswers: resolve(c, K.HotAnswers).size }),
    memory: idleMemoryStats,
    logger: logger.child({ component: 'http' }),
    ...(config.analytics.enabled
      ? {
          analytics: async () => {
            const { since, totals } = await statsReport(resolve(c, K.DownloadQueries), (name) => statsRepositories(resolve(c, K.Repositories)).get(name), { top: 1 });
            return { since, all: totals.all, formats: totals.formats };
          },
        }
      : {}),
  })));
  root.register(K.DownloadQueries, once((c) => new DownloadQueries(resolve(c, K.MetadataStore).dataSource)));
  root.register(K.HttpHost, once((c) => {
    const repositories = resolve(c, K.Repositories);
    if (metrics) for (const r of repositories.values()) r.proxy?.observeUpstream(metrics.upstreamObserver(r.name, r.config.format));
    const admin = resolve(c, K.AdminService);
    const hot = resolve(c, K.HotAnswers);
    const authorization = resolve(c, K.Authorization);
    const sessions = resolve(c, K.WebSessions);
    const adminApi = resolve(c, K.AdminApi);
    const accounts = new AccountsAdminApi({
      users: resolve(c, K.Users),
      tokens: resolve(c, K.UserTokens),
      auth: config.auth,
      repositories,
      admin: (ctx, work) => adminApi.admin(ctx, work),
    });
    const metadata = resolve(c, K.MetadataStore);
    let host: HttpHost | undefined;
    const browse = new BrowseApi({
      repositories,
      sessions,
      canRead: (principal, runtime, packageName) => {
        try {
          authorization.authorize(principal, 'read', { name: runtime.name, ...(runtime.config.anonymousRead !== undefined ? { anonymousRead: runtime.config.anonymousRead } : {}) }, packageName);
          return true;
        } catch {
          return false;
        }
      },
      info: (ctx, runtime) => host!.info(ctx, runtime),
      totals: () => metadata.repositoryTotals(),
      onChange: (listener) => metadata.onChange(listener),
      downloads: async (name, format, repository) => {
        const since = windowStart(30);
        const stats = await resolve(c, K.DownloadQueries).package(name, { since, format, repositories: [repository] });
        return {
          since,
          downloads: stats?.downloads ?? 0,
          days: stats?.days.map((d) => ({ day: d.day, downloads: d.downloads })) ?? [],
          versions: stats?.versions.map((v) => ({ version: v.version, downloads: v.downloads })) ?? [],
        };
      },
    });
    const webApp = config.web.enabled ? [...resolve(c, K.PluginHost).webApps.values()][0]?.definition : undefined;
    host = new HttpHost({
      webApi: { sessions, browse, accounts, maintenance: new MaintenanceAdminApi({ service: admin, admin: (ctx, work) => adminApi.admin(ctx, work) }) },
      ...(webApp ? { webApp: new WebAppHost(webApp, config.web.prefix) } : {}),
      server: config.server,
      repositories,
      dispatcher: resolve(c, K.Dispatcher),
      authentication: resolve(c, K.Authentication),
      canRead: (principal, repository) => {
        try {
          resolve(c, K.Authorization).authorize(principal, 'read', repository);
          return true;
        } catch {
          return false;
        }
      },
      logger: logger.child({ component: 'http' }),
      loopMarker: resolve(c, K.LoopMarker),
      health: () => admin.healthFacts(),
      adminApi,
      statsApi: new StatsApi({
        queries: resolve(c, K.DownloadQueries),
        authentication: resolve(c, K.Authentication),
        allowed: (principal, permission, repository) => {
          const runtime = repositories.get(repository);
          try {
            resolve(c, K.Authorization).authorize(principal, permission, { name: repository, ...(runtime?.config.anonymousRead !== undefined ? { anonymousRead: runtime.config.anonymousRead } : {}) });
            return true;
          } catch {
            return false;
          }
        },
        repositories: statsRepositories(repositories),
        logger: logger.child({ component: 'http' }),
        ...(metrics ? { metrics: { registry: metrics, open: config.metrics.open } } : {}),
      }),
      ...(metrics ? { metrics } : {}),
      ...(config.logging.accessLogFile !== undefined
        ? { structuredLog: new AccessLog(path.resolve(config.dataDir, config.logging.accessLogFile), (error) => logger.error('could not write the access log', { error: error.message })) }
        : {}),
      accessLog: config.logging.access,
      // At debug level every request goes the whole way through koa (replayed answers are logged too).
      ...(config.logging.level === 'debug' ? {} : { hotAnswers: hot }),
      ...(config.analytics.enabled ? { downloads: new DownloadRecorder(resolve(c, K.Downloads), repositories) } : {}),
      countHit: (repository) => {
        const upstream = repositories.get(repository)?.proxy;
        if (upstream) upstream.health.hits++;
      },
    });
    return host;
  }));
  root.register(K.Scheduler, once((c) => new Scheduler(resolve(c, K.AdminService), resolve(c, K.Repositories), config.cleanup, logger, tmpDir, {
    downloads: resolve(c, K.Downloads),
    retentionDays: config.analytics.retentionDays,
  })));
}

/**
 * Workers of one node tell each other (through the primary) what they changed, and each
 * drops what it would have dropped had it made the change itself: content rows and
 * replayed answers of the repository, checked tokens and logins.
 */
function shareChanges(root: DependencyContainer, worker: WorkerLink): void {
  const metadata = resolve(root, K.MetadataStore);
  const auth = resolve(root, K.Auth);
  metadata.onChange((repository, path) => worker.announce({ kind: 'content', repository, ...(path !== undefined ? { path } : {}) }));
  auth.tokens.onRevoked(() => worker.announce({ kind: 'tokens' }));
  auth.users.onPasswordChanged(() => worker.announce({ kind: 'users' }));
  worker.onChange((change) => {
    if (change.kind === 'content') metadata.changedElsewhere(change.repository, change.path);
    else if (change.kind === 'tokens') auth.tokens.revokedElsewhere();
    else auth.users.changedElsewhere();
  });
}

/** The repositories as the stats see them: format, type, a group's members. */
function statsRepositories(repositories: ReadonlyMap<string, RepositoryRuntime>): Map<string, StatsRepository> {
  return new Map([...repositories].map(([name, r]) => [name, { format: r.config.format, type: r.config.type, ...(r.config.members ? { members: r.config.members } : {}) }]));
}
