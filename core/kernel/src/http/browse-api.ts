import type { Context } from 'koa';
import { BadRequestError, NotFoundError, boundedPackageView, type Component, type PackageView, type Principal, type RepositoryInfo } from '@registry-core/api';
import type { ProxyStats } from '../engine/upstream-health.js';
import { CachedPackages } from './cached-packages.js';
import type { RepositoryRuntime } from './dispatcher.js';
import type { HostRouter } from './host-router.js';
import type { WebSessions } from './web-session.js';

export interface BrowseApiOptions {
  readonly repositories: ReadonlyMap<string, RepositoryRuntime>;
  readonly sessions: WebSessions;
  /** Whether `principal` may read the repository (and, given, the package), exactly as its protocol endpoints decide. */
  readonly canRead: (principal: Principal, runtime: RepositoryRuntime, packageName?: string) => boolean;
  /** The repository's facts with its URL as the request addressed this host. */
  readonly info: (ctx: Context, runtime: RepositoryRuntime) => RepositoryInfo;
  /** Per repository: bytes and files stored, package names indexed. */
  readonly totals: () => Promise<ReadonlyMap<string, { bytes: number; files: number; packages: number }>>;
  /** One package's downloads from one repository over the last 30 days (the analytics); absent: not counted. */
  readonly downloads?: (name: string, format: string, repository: string) => Promise<PackageDownloads>;
  /** Be told when this process changes a repository's files (a proxy's listing of cached packages is rebuilt). */
  readonly onChange?: (listener: (repository: string) => void) => unknown;
}

/** A package's downloads as the package page shows them: the 30-day total, per day and per version. */
export interface PackageDownloads {
  readonly since: string;
  readonly downloads: number;
  readonly days: readonly { readonly day: string; readonly downloads: number }[];
  readonly versions: readonly { readonly version: string; readonly downloads: number }[];
}

const MAX_PAGE = 100;

/**
 * The JSON APIs a web interface reads (`/-/api/...`): repositories, the packages of one
 * (paged, filtered), one package (versions, and what its format tells of it: README,
 * dependencies, tags, files with sizes and digests, install line), and a search across every
 * format. Packages come from the kernel's component index; a proxy's, from the files it
 * cached (see {@link CachedPackages}). A caller sees exactly what the
 * protocol endpoints would let it read: a repository (or package) it may not read is never
 * listed, and asked for by name it is a 404, as if it did not exist.
 */
export class BrowseApi {
  private readonly cached: CachedPackages;

  constructor(private readonly options: BrowseApiOptions) {
    this.cached = new CachedPackages(options.onChange);
  }

  mount(router: HostRouter): void {
    const { sessions } = this.options;
    router.get('/-/api/repositories', (ctx) =>
      sessions.json(ctx, async () => {
        const principal = await sessions.principal(ctx);
        const totals = await this.options.totals();
        return { repositories: await Promise.all(this.readable(principal).map((r) => this.describe(ctx, r, totals))) };
      }),
    );
    router.get('/-/api/repositories/:repository', (ctx, params) =>
      sessions.json(ctx, async () => {
        const principal = await sessions.principal(ctx);
        const runtime = this.repository(principal, params['repository'] as string);
        const info = this.options.info(ctx, runtime);
        return { ...(await this.describe(ctx, runtime, await this.options.totals())), clientConfig: runtime.format.clientConfig?.(info) ?? [] };
      }),
    );
    router.get('/-/api/repositories/:repository/packages', (ctx, params) =>
      sessions.json(ctx, async () => {
        const principal = await sessions.principal(ctx);
        const runtime = this.repository(principal, params['repository'] as string);
        const { offset, limit, text } = page(ctx);
        return { repository: runtime.name, offset, limit, ...(await this.packagesOf(principal, [runtime], text, offset, limit)) };
      }),
    );
    router.get('/-/api/repositories/:repository/packages/:package', (ctx, params) =>
      sessions.json(ctx, async () => {
        const principal = await sessions.principal(ctx);
        const runtime = this.repository(principal, params['repository'] as string);
        const version = typeof ctx.query['version'] === 'string' && ctx.query['version'] !== '' ? ctx.query['version'] : undefined;
        return this.packageOf(ctx, principal, runtime, params['package'] as string, version);
      }),
    );
    router.get('/-/api/search', (ctx) =>
      sessions.json(ctx, async () => {
        const principal = await sessions.principal(ctx);
        const { offset, limit, text } = page(ctx);
        if (text === '') throw new BadRequestError('give ?q=<text>');
        const leaves = this.readable(principal).filter((r) => r.config.type !== 'group');
        return { query: text, offset, limit, ...(await this.packagesOf(principal, leaves, text, offset, limit)) };
      }),
    );
  }

  private readable(principal: Principal): RepositoryRuntime[] {
    return [...this.options.repositories.values()].filter((r) => this.options.canRead(principal, r));
  }

  /** A repository the caller may read; any other is not found (its existence is not told). */
  private repository(principal: Principal, name: string): RepositoryRuntime {
    const runtime = this.options.repositories.get(name);
    if (!runtime || !this.options.canRead(principal, runtime)) throw new NotFoundError(`no repository named ${name.slice(0, 64)}`);
    return runtime;
  }

  private async describe(ctx: Context, runtime: RepositoryRuntime, totals: ReadonlyMap<string, { bytes: number; files: number; packages: number }>) {
    const info = this.options.info(ctx, runtime);
    const own = totals.get(runtime.name) ?? { bytes: 0, files: 0, packages: 0 };
    const packages = this.cached.applies(runtime) ? (await this.cached.of(runtime)).length : own.packages;
    const health: ProxyStats | undefined = runtime.proxy?.health.snapshot();
    return {
      name: runtime.name,
      format: runtime.config.format,
      type: runtime.config.type,
      url: info.url,
      takesWrites: info.takesWrites,
      ...(runtime.config.members ? { members: runtime.config.members } : {}),
      ...(runtime.config.type === 'proxy' && runtime.config.upstream ? { upstream: shownUrl(runtime.config.upstream) } : {}),
      ...(health ? { upstreamHealth: { state: health.breaker.state, hits: health.hits, misses: health.misses, stale: health.stale, upstreamErrors: health.upstreamErrors } } : {}),
      size: { bytes: own.bytes, files: own.files },
      packages,
    };
  }

  /** The leaf repositories (hosted, proxy) a repository reads from, in member order, those the caller may read. */
  private leaves(principal: Principal, runtime: RepositoryRuntime, seen = new Set<string>()): RepositoryRuntime[] {
    if (seen.has(runtime.name)) return [];
    seen.add(runtime.name);
    if (runtime.config.type !== 'group') return [runtime];
    return (runtime.config.members ?? []).flatMap((name) => {
      const member = this.options.repositories.get(name);
      return member && this.options.canRead(principal, member) ? this.leaves(principal, member, seen) : [];
    });
  }

  /**
   * Packages of the given repositories (groups read through their members; a name two hold
   * is listed once, from the first), by name, `limit` from `offset`.
   */
  private async packagesOf(principal: Principal, runtimes: readonly RepositoryRuntime[], text: string, offset: number, limit: number) {
    const leaves = [...new Map(runtimes.flatMap((r) => this.leaves(principal, r)).map((r) => [r.name, r])).values()];
    const found = new Map<string, { repository: RepositoryRuntime; component: Component }>();
    let total = 0;
    for (const leaf of leaves) {
      const result = this.cached.applies(leaf) ? await this.cached.search(leaf, text, 0, offset + limit) : await leaf.handle.components.search({ text, offset: 0, limit: offset + limit });
      total += result.total;
      for (const component of result.items) {
        const key = `${leaf.config.format}\n${component.name}`;
        if (found.has(key)) total--;
        else if (this.options.canRead(principal, leaf, component.name)) found.set(key, { repository: leaf, component });
        else total--;
      }
    }
    const items = [...found.values()]
      .sort((a, b) => (a.component.name < b.component.name ? -1 : a.component.name > b.component.name ? 1 : a.repository.name < b.repository.name ? -1 : 1))
      .slice(offset, offset + limit)
      .map(({ repository, component }) => ({
        repository: repository.name,
        format: repository.config.format,
        name: component.name,
        ...(typeof component.attributes['displayName'] === 'string' ? { displayName: component.attributes['displayName'] } : {}),
        version: component.version,
        description: typeof component.attributes['description'] === 'string' ? component.attributes['description'] : '',
        updatedAt: component.updatedAt.toISOString(),
      }));
    return { total: Math.max(total, offset + items.length), items };
  }

  private async packageOf(ctx: Context, principal: Principal, runtime: RepositoryRuntime, name: string, version: string | undefined) {
    // Through a group: the first member holding the name, as the group serves it.
    let holder: RepositoryRuntime | undefined;
    let versions: readonly Component[] = [];
    // A proxy's: the files it cached of each version.
    let cachedFiles: ReadonlyMap<string, readonly string[]> | undefined;
    for (const leaf of this.leaves(principal, runtime)) {
      if (!this.options.canRead(principal, leaf, name)) continue;
      if (this.cached.applies(leaf)) {
        const cached = await this.cached.versions(leaf, name);
        versions = cached.components;
        cachedFiles = new Map(cached.versions.map((v) => [v.version, v.paths]));
      } else {
        versions = await leaf.handle.components.versions(name);
        cachedFiles = undefined;
      }
      if (versions.length > 0) {
        holder = leaf;
        break;
      }
    }
    if (!holder) throw new NotFoundError(`no package ${name.slice(0, 200)} in ${runtime.name}`);
    if (version !== undefined && !versions.some((v) => v.version === version)) throw new NotFoundError(`no version ${version.slice(0, 100)} of ${name.slice(0, 200)} in ${runtime.name}`);
    // A proxy's view is of a version it cached (the upstream's latest may not be).
    const asked = version ?? (cachedFiles ? versions[versions.length - 1]!.version : undefined);
    // Read from stored (hostile) files: bounded here, for every format, third parties' too.
    const view: PackageView = boundedPackageView((await holder.format.packageView?.(holder.handle, name, asked)) ?? {});
    const latest = versions[versions.length - 1]!;
    const shown = view.version ?? version ?? latest.version;
    const component = versions.find((v) => v.version === shown) ?? latest;
    const files = [];
    // A format that tells no files of a proxy's version: the files the proxy cached of it.
    const viewFiles = view.files?.length || !cachedFiles ? (view.files ?? []) : (cachedFiles.get(component.version) ?? []).map((path) => ({ name: path.slice(path.lastIndexOf('/') + 1), path }));
    for (const file of viewFiles) {
      const asset = await holder.handle.assets.get(file.path);
      if (asset) files.push({ name: file.name, path: file.path, url: `${this.options.info(ctx, holder).url}${file.path.split('/').map(encodeURIComponent).join('/')}`, size: asset.size, digests: asset.digests });
    }
    // Installed through where clients point: the repository asked for (a group, say).
    const via = this.options.info(ctx, runtime);
    const description = view.description ?? (typeof component.attributes['description'] === 'string' ? component.attributes['description'] : '');
    return {
      repository: runtime.name,
      heldBy: holder.name,
      format: holder.config.format,
      name,
      ...(typeof component.attributes['displayName'] === 'string' ? { displayName: component.attributes['displayName'] } : {}),
      version: shown,
      versions: versions.map((v) => ({ version: v.version, updatedAt: v.updatedAt.toISOString() })).reverse(),
      description,
      ...(view.readme !== undefined ? { readme: view.readme } : {}),
      dependencies: view.dependencies ?? [],
      tags: view.tags ?? {},
      facts: view.facts ?? {},
      files,
      // For the version shown: a format's "latest" may be no version at all (an image without
      // a `latest` tag), and the page names one.
      install: runtime.format.installLines?.(via, name, shown) ?? [],
      clientConfig: runtime.format.clientConfig?.(via) ?? [],
      // Counted for the member holding the files, whichever group they were installed through.
      downloads: this.options.downloads ? await this.options.downloads(name, holder.config.format, holder.name) : null,
    };
  }
}

/** `?q=&offset=&limit=`, checked. */
function page(ctx: Context): { text: string; offset: number; limit: number } {
  const value = (name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : '');
  const offset = value('offset') === '' ? 0 : Number(value('offset'));
  const limit = value('limit') === '' ? 20 : Number(value('limit'));
  if (!Number.isInteger(offset) || offset < 0 || offset > 100_000) throw new BadRequestError('offset: a non-negative integer');
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new BadRequestError(`limit: an integer from 1 to ${MAX_PAGE}`);
  const text = value('q').trim();
  if (text.length > 200) throw new BadRequestError('q: at most 200 characters');
  return { text, offset, limit };
}

/** An upstream URL as shown: no credentials, no query. */
function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    return parsed.href;
  } catch {
    return '';
  }
}
