import type { AddressInfo } from 'node:net';
import type { ClientSettingsFile, Logger, RepositoryInfo } from '@registry-core/api';
import type { DependencyContainer } from 'tsyringe';
import { Tokens } from '@registry-core/api';
import type { AuthService } from '../auth/auth-service.js';
import { ConfigError } from '../config/load-config.js';
import type { LoadedConfig, RegistryConfig } from '../config/types.js';
import { WorkerLink } from '../cluster/worker-link.js';
import { selfUpstream } from '../engine/self-upstream.js';
import type { CacheMaintenance } from '../engine/maintenance.js';
import type { copyStorage, CopySummary } from '../engine/storage-copy.js';
import type { ProxyStats } from '../engine/upstream-health.js';
import type { RepositoryRuntime } from '../http/dispatcher.js';
import type { HttpHost } from '../http/server.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { PluginHost } from '../plugins/plugin-host.js';
import type { AdminService } from './admin-service.js';
import { buildRegistryContainer, type RegistryOptions } from './builder.js';
import { KernelTokens as K, resolve } from './kernel-tokens.js';
import type { UnavailableRepository } from './repository-runtimes.js';
import type { Scheduler } from './scheduler.js';
import { startIdleMemoryRelease } from './idle-memory.js';

export type { RegistryOptions } from './builder.js';
export type { UnavailableRepository } from './repository-runtimes.js';

/**
 * A whole registry: plugins, storage, metadata store, auth, repositories and the HTTP
 * host, built from a loaded config (see builder.ts). `start()` listens; `stop()` drains
 * and closes. The operator's requests go to its {@link AdminService}, which this forwards to.
 */
export class Registry {
  readonly loaded: LoadedConfig;
  readonly config: RegistryConfig;
  readonly logger: Logger;
  readonly plugins: PluginHost;
  readonly metadata: MetadataStore;
  readonly auth: AuthService;
  readonly repositories: ReadonlyMap<string, RepositoryRuntime>;
  readonly unavailable: readonly UnavailableRepository[];
  readonly http: HttpHost;
  readonly admin: AdminService;
  private readonly scheduler: Scheduler;
  /** This registry's hold on the process's idle memory release (`server.releaseMemoryWhenIdle`). */
  private idleMemory: ReturnType<typeof startIdleMemoryRelease>;

  private constructor(
    /** The registry's root container: every kernel service, by {@link K}. */
    readonly container: DependencyContainer,
  ) {
    this.loaded = resolve(container, K.LoadedConfig);
    this.config = resolve(container, K.Config);
    this.logger = container.resolve<Logger>(Tokens.Logger);
    this.plugins = resolve(container, K.PluginHost);
    this.metadata = resolve(container, K.MetadataStore);
    this.auth = resolve(container, K.Auth);
    this.repositories = resolve(container, K.Repositories);
    this.unavailable = resolve(container, K.UnavailableRepositories);
    this.http = resolve(container, K.HttpHost);
    this.admin = resolve(container, K.AdminService);
    this.scheduler = resolve(container, K.Scheduler);
  }

  static async create(loaded: LoadedConfig, options: RegistryOptions = {}): Promise<Registry> {
    return new Registry(await buildRegistryContainer(loaded, options));
  }

  /**
   * Give back what building the registry allocated, before {@link start} takes traffic
   * (`server.releaseMemoryWhenIdle`; the CLI's `start` calls it): a few garbage collections,
   * about 0.2 s. See `IdleMemoryRelease.settle`.
   */
  async releaseStartMemory(): Promise<void> {
    await this.idleMemoryRelease()?.release.settle();
  }

  /** The process's releaser, joined once (`server.releaseMemoryWhenIdle`); undefined when off or unavailable. */
  private idleMemoryRelease(): ReturnType<typeof startIdleMemoryRelease> {
    if (this.config.server.releaseMemoryWhenIdle) this.idleMemory ??= startIdleMemoryRelease(this.logger);
    return this.idleMemory;
  }

  /**
   * Listen, start the schedule, tell formats their repositories are ready; resolves the
   * bound address. A proxy whose upstream is this very server (a client config that points
   * here, copied into the config) is refused: the registry stops again and this throws a
   * {@link ConfigError} naming the repository.
   */
  async start(): Promise<AddressInfo> {
    const address = await this.http.listen();
    try {
      await this.refuseSelfUpstreams(address.port);
    } catch (error) {
      await this.stop();
      throw error;
    }
    // With `server.workers`, one worker (slot 1) runs the periodic tasks for all.
    if (WorkerLink.current()?.leader ?? true) this.scheduler.start();
    if (this.config.analytics.enabled) resolve(this.container, K.Downloads).start();
    // The process's releaser joined here when `releaseStartMemory` has not.
    this.idleMemoryRelease();
    for (const runtime of this.repositories.values()) {
      await runtime.format.onRepositoryReady?.(runtime.handle);
    }
    return address;
  }

  /** Throws when a proxy's upstream resolves to an address and port this server listens on. */
  private async refuseSelfUpstreams(port: number): Promise<void> {
    const listening = { host: this.config.server.host, ports: [port, ...this.http.boundPorts.keys()], publicUrl: this.config.server.publicUrl };
    const errors: string[] = [];
    for (const runtime of this.repositories.values()) {
      const upstream = runtime.proxy?.upstreamUrl;
      const why = upstream === undefined ? undefined : await selfUpstream(upstream, listening);
      if (why) errors.push(`repositories.${runtime.name}.upstream: ${upstream} is this registry itself (${why}); a proxy of itself would ask itself for every answer until it runs out of connections: point it at another registry`);
    }
    if (errors.length) throw new ConfigError(errors, this.loaded.filepath);
  }

  /** Drain HTTP, deactivate plugins, close storage and the database. */
  async stop(): Promise<void> {
    this.scheduler.stop();
    this.idleMemory?.stop();
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
    await resolve(this.container, K.DerivedMemory).close();
    // Counts of the requests just drained (and of downloads just stored) are written before the database closes.
    await resolve(this.container, K.Downloads).close().catch((error: unknown) => this.logger.warn('could not write the last download counts', { error: String(error) }));
    await this.plugins.deactivateAll();
    for (const store of resolve(this.container, K.BlobStores).values()) await store.driver.close?.();
    await this.metadata.close();
  }

  /** See {@link AdminService.call}. */
  call(repository: string, method: string, pathWithQuery: string, options: { body?: unknown; user?: string } = {}): Promise<{ status: number; body: unknown }> {
    return this.admin.call(repository, method, pathWithQuery, options);
  }

  /** See {@link AdminService.copyStorage}. */
  copyStorage(fromName: string, toName: string, options: Parameters<typeof copyStorage>[3] = {}): Promise<CopySummary> {
    return this.admin.copyStorage(fromName, toName, options);
  }

  /** Cache upkeep (verify, clean) over this registry's stores. */
  get maintenance(): CacheMaintenance {
    return this.admin.maintenance;
  }

  /** See {@link AdminService.cleanCache}. */
  cleanCache(options: Parameters<AdminService['cleanCache']>[0] = {}): ReturnType<AdminService['cleanCache']> {
    return this.admin.cleanCache(options);
  }

  /** See {@link AdminService.sweepUploads}. */
  sweepUploads(): Promise<{ sessions: number; orphans: number; pending: number }> {
    return this.admin.sweepUploads();
  }

  /** See {@link AdminService.tasks}. */
  tasks(): { format: string; name: string; description: string }[] {
    return this.admin.tasks();
  }

  /** See {@link AdminService.runTask}. */
  runTask(format: string, name: string, options: { repository?: string; dryRun?: boolean } = {}): Promise<{ repository: string; report: Readonly<Record<string, unknown>> }[]> {
    return this.admin.runTask(format, name, options);
  }

  /** See {@link AdminService.repositoryInfos}. */
  repositoryInfos(): RepositoryInfo[] {
    return this.admin.repositoryInfos();
  }

  /** See {@link AdminService.clientSettings}. */
  clientSettings(info: RepositoryInfo, token: string | undefined): readonly ClientSettingsFile[] {
    return this.admin.clientSettings(info, token);
  }

  /** See {@link AdminService.clientConfig}. */
  clientConfig(info: RepositoryInfo): readonly string[] {
    return this.admin.clientConfig(info);
  }

  /** See {@link AdminService.stats}. */
  stats(): Record<string, ProxyStats> {
    return this.admin.stats();
  }

  /** See {@link AdminService.healthFacts}. */
  healthFacts(): Record<string, unknown> {
    return this.admin.healthFacts();
  }
}
