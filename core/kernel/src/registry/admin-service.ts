import { randomUUID } from 'node:crypto';
import { isRegistryError, type ClientSettingsFile, type Logger, type RepositoryInfo } from '@registry-core/api';
import { WorkerLink } from '../cluster/worker-link.js';
import type { RegistryConfig } from '../config/types.js';
import type { BlobStore } from '../engine/blob-store.js';
import { CacheMaintenance } from '../engine/maintenance.js';
import { copyStorage, type CopySummary } from '../engine/storage-copy.js';
import type { ProxyStats } from '../engine/upstream-health.js';
import { RepositoryAssetStore } from '../engine/asset-store.js';
import { KernelUploadSessions, sweepUploads } from '../engine/upload-sessions.js';
import type { Dispatcher, RepositoryRuntime } from '../http/dispatcher.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { PluginHost, PluginRecord } from '../plugins/plugin-host.js';
import type { UnavailableRepository } from './repository-runtimes.js';

export interface AdminServiceOptions {
  readonly config: RegistryConfig;
  readonly logger: Logger;
  readonly plugins: PluginHost;
  readonly metadata: MetadataStore;
  readonly blobStores: ReadonlyMap<string, BlobStore>;
  readonly repositories: ReadonlyMap<string, RepositoryRuntime>;
  readonly unavailable: readonly UnavailableRepository[];
  readonly dispatcher: Dispatcher;
  /** A repository's facts with its URL as seen from the server's own address. */
  readonly repositoryInfo: (runtime: RepositoryRuntime) => RepositoryInfo;
}

/**
 * What operators ask of a registry, through the command line, the admin API and the
 * health and stats endpoints: repository facts, proxy counters, health facts, cache
 * upkeep (clean, verify), storage copies, format tasks, and running a repository's own
 * endpoints as an administrator.
 */
export class AdminService {
  constructor(private readonly options: AdminServiceOptions) {}

  /**
   * Run one of a repository's endpoints in this process, as an administrator (the command
   * line's `registry-core call`): the format's own management endpoints (a PyPI yank, say)
   * without a server or a token. The body is given parsed (JSON routes). Resolves the
   * status and the body as the format answered, or the error it threw as status and message.
   */
  async call(repository: string, method: string, pathWithQuery: string, options: { body?: unknown; user?: string } = {}): Promise<{ status: number; body: unknown }> {
    const { config, repositories, unavailable, dispatcher, logger } = this.options;
    const runtime = repositories.get(repository);
    if (!runtime) throw new Error(`no repository named ${repository}${unavailable.some((u) => u.name === repository) ? ' is available (see the start output)' : ''}`);
    const url = new URL(pathWithQuery.startsWith('/') ? pathWithQuery : `/${pathWithQuery}`, 'http://registry.invalid');
    const base = config.server.publicUrl ?? `http://${config.server.host}:${config.server.port}`;
    const principal = { name: options.user ?? 'cli', anonymous: false, roles: ['admin'], via: 'password' as const, readOnly: false };
    try {
      const response = await dispatcher.dispatch(runtime, {
        method: method.toUpperCase(),
        path: url.pathname,
        query: url.searchParams,
        headers: { accept: 'application/json' },
        principal,
        baseUrl: `${base.replace(/\/$/, '')}/${repository}/`,
        clientAddress: 'cli',
        requestId: randomUUID(),
        logger,
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

  /** Copy the blobs the metadata refers to from one configured store into another. */
  copyStorage(fromName: string, toName: string, options: Parameters<typeof copyStorage>[3] = {}): Promise<CopySummary> {
    const { blobStores, metadata, logger } = this.options;
    const from = blobStores.get(fromName);
    const to = blobStores.get(toName);
    if (!from) throw new Error(`no storage named ${fromName}`);
    if (!to) throw new Error(`no storage named ${toName}`);
    if (from === to) throw new Error('--from and --to name the same storage');
    return copyStorage(metadata, from, to, { logger, ...options });
  }

  /** Cache upkeep (verify, clean) over this registry's stores. */
  get maintenance(): CacheMaintenance {
    const { repositories, metadata, blobStores, logger } = this.options;
    const proxies = new Set([...repositories.values()].filter((r) => r.config.type === 'proxy').map((r) => r.name));
    return new CacheMaintenance(metadata, blobStores, proxies, logger.child({ component: 'cache' }));
  }

  /** Run the configured cleanup now (also what the schedule runs). */
  cleanCache(options: { dryRun?: boolean; unusedDays?: number; onProgress?: (message: string) => void } = {}) {
    const { cleanup } = this.options.config;
    return this.maintenance.clean({
      dryRun: options.dryRun,
      unusedDays: options.unusedDays ?? cleanup.unusedDays,
      maxCacheBytes: cleanup.maxCacheBytes,
      onProgress: options.onProgress,
    });
  }

  /**
   * Remove upload sessions untouched for `cleanup.uploadExpiryHours` (with their bytes),
   * orphaned upload objects, and pending assets of publishes cut short (older than an hour).
   */
  async sweepUploads(): Promise<{ sessions: number; orphans: number; pending: number }> {
    const { metadata, repositories, blobStores, config } = this.options;
    const pending = await RepositoryAssetStore.sweepPending(metadata, blobStores);
    const uploads = await sweepUploads(
      metadata,
      (name) => {
        const uploads = repositories.get(name)?.handle.uploads;
        return uploads instanceof KernelUploadSessions ? uploads : undefined;
      },
      blobStores.values(),
      config.cleanup.uploadExpiryHours * 3_600_000,
    );
    return { ...uploads, pending };
  }

  /** The upkeep tasks formats offer, as `<format> <task>`. */
  tasks(): { format: string; name: string; description: string }[] {
    const seen = new Map<string, { format: string; name: string; description: string }>();
    for (const runtime of this.options.repositories.values()) {
      for (const task of runtime.format.tasks ?? []) seen.set(`${runtime.config.format} ${task.name}`, { format: runtime.config.format, name: task.name, description: task.description });
    }
    return [...seen.values()];
  }

  /**
   * Run a format's upkeep task on each of its repositories (or the one named), one node at
   * a time across the cluster. Resolves each repository's report.
   */
  async runTask(format: string, name: string, options: { repository?: string; dryRun?: boolean } = {}): Promise<{ repository: string; report: Readonly<Record<string, unknown>> }[]> {
    const targets = [...this.options.repositories.values()].filter((r) => r.config.format === format && (options.repository === undefined || r.name === options.repository));
    if (options.repository !== undefined && targets.length === 0) throw new Error(`no ${format} repository named ${options.repository}`);
    const task = targets.map((r) => r.format.tasks?.find((t) => t.name === name)).find((t) => t !== undefined);
    if (!task) throw new Error(`format ${format} has no task ${name}${this.tasks().length ? ` (tasks: ${this.tasks().map((t) => `${t.format} ${t.name}`).join(', ')})` : ''}`);
    const reports: { repository: string; report: Readonly<Record<string, unknown>> }[] = [];
    for (const runtime of targets) {
      const logger = this.options.logger.child({ task: `${format} ${name}`, repository: runtime.name });
      const report = await this.options.metadata.withClusterLock(`task:${format}:${name}:${runtime.name}`, () => task.run(runtime.handle, { dryRun: options.dryRun ?? false, logger }));
      reports.push({ repository: runtime.name, report });
    }
    return reports;
  }

  /** Repository facts with URLs as seen from the server's own address. */
  repositoryInfos(): RepositoryInfo[] {
    return [...this.options.repositories.values()].map((r) => this.options.repositoryInfo(r));
  }

  /** The client configuration lines a format offers for a repository. */
  clientConfig(info: RepositoryInfo): readonly string[] {
    return this.options.repositories.get(info.name)?.format.clientConfig?.(info) ?? [];
  }

  /** The client configuration files a format offers for a repository (FormatDefinition.clientSettings). */
  clientSettings(info: RepositoryInfo, token: string | undefined): readonly ClientSettingsFile[] {
    return this.options.repositories.get(info.name)?.format.clientSettings?.(info, token) ?? [];
  }

  /** Hit, miss, stale and upstream counters and breaker state of every proxy. */
  stats(): Record<string, ProxyStats> {
    const out: Record<string, ProxyStats> = {};
    for (const runtime of this.options.repositories.values()) {
      if (runtime.proxy) out[runtime.name] = runtime.proxy.health.snapshot();
    }
    return out;
  }

  /** What the health endpoint tells beside the status. */
  healthFacts(): Record<string, unknown> {
    const { repositories, unavailable, plugins } = this.options;
    const worker = WorkerLink.current();
    return {
      upstreams: Object.fromEntries(Object.entries(this.stats()).map(([name, s]) => [name, s.breaker.state])),
      repositories: [...repositories.values()].map((r) => ({ name: r.name, format: r.config.format, type: r.config.type })),
      unavailable,
      plugins: plugins.records.map((p: PluginRecord) => ({ name: p.name, version: p.version, status: p.status, ...(p.reason ? { reason: p.reason } : {}) })),
      // Which process answered, with `server.workers`.
      ...(worker ? { worker: { slot: worker.slot, pid: process.pid } } : {}),
    };
  }
}
