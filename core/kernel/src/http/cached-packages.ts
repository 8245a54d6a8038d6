import type { Component } from '@registry-core/api';
import type { RepositoryRuntime } from './dispatcher.js';

/** One version a proxy has cached files of: the files' paths, the newest file's time. */
export interface CachedVersion {
  readonly version: string;
  readonly updatedAt: Date;
  readonly paths: readonly string[];
}

/** One package a proxy has cached files of, its versions oldest first (by version number). */
export interface CachedPackage {
  readonly name: string;
  readonly versions: readonly CachedVersion[];
}

/** A listing rebuilt at most this often while its repository keeps changing (a busy proxy caches files all the time). */
const REBUILD_AFTER_CHANGE_MS = 2_000;
/** A listing older than this is rebuilt anyway: other nodes' cache fills are not reported here. */
const MAX_AGE_MS = 30_000;
/** Stored files read at most per listing (a page of 1000 at a time); past it, the listing is partial. */
const MAX_ASSETS = 200_000;

const byVersion = new Intl.Collator('en', { numeric: true });

/**
 * What a proxy repository has cached, by package: its stored files mapped to package and
 * version by the format's {@link FormatDefinition.downloadOf}, the same exact mapping the
 * download analytics use (a file it names no package of, a metadata document say, is left
 * out; so are files of no one version, an image layer). A proxy keeps no component index,
 * so this is how its cached packages are listed and opened. The stored path is passed as the
 * request path too: a format whose `downloadOf` tells only from a client's request path
 * lists nothing here (OCI maps its stored files too: a cached tag is a version).
 *
 * A listing is kept per repository and rebuilt when this process changed the repository
 * (at most every {@link REBUILD_AFTER_CHANGE_MS}) or after {@link MAX_AGE_MS}.
 */
export class CachedPackages {
  private readonly listings = new Map<string, { at: number; changed: boolean; packages: Promise<readonly CachedPackage[]> }>();

  constructor(onChange?: (listener: (repository: string) => void) => unknown) {
    onChange?.((repository) => {
      const listing = this.listings.get(repository);
      if (listing) listing.changed = true;
    });
  }

  /** Whether `runtime` is listed from its cached files (a proxy whose format maps files to packages). */
  applies(runtime: RepositoryRuntime): boolean {
    return runtime.config.type === 'proxy' && typeof runtime.format.downloadOf === 'function';
  }

  /** The cached packages of a proxy, by name. */
  of(runtime: RepositoryRuntime): Promise<readonly CachedPackage[]> {
    const now = Date.now();
    const listing = this.listings.get(runtime.name);
    if (listing && now - listing.at < MAX_AGE_MS && !(listing.changed && now - listing.at >= REBUILD_AFTER_CHANGE_MS)) return listing.packages;
    const packages = this.build(runtime);
    this.listings.set(runtime.name, { at: now, changed: false, packages });
    packages.catch(() => this.listings.get(runtime.name)?.packages === packages && this.listings.delete(runtime.name));
    return packages;
  }

  /** Those whose name holds `text` (any case), as components (their newest version), `limit` from `offset`. */
  async search(runtime: RepositoryRuntime, text: string, offset: number, limit: number): Promise<{ total: number; items: Component[] }> {
    const needle = text.toLowerCase();
    const matching = (await this.of(runtime)).filter((p) => p.name.toLowerCase().includes(needle));
    return { total: matching.length, items: matching.slice(offset, offset + limit).map((p) => asComponent(p.name, p.versions[p.versions.length - 1]!)) };
  }

  /** One package's cached versions as components (oldest first), and their files. */
  async versions(runtime: RepositoryRuntime, name: string): Promise<{ components: Component[]; versions: readonly CachedVersion[] }> {
    const found = (await this.of(runtime)).find((p) => p.name === name);
    return { components: (found?.versions ?? []).map((v) => asComponent(name, v)), versions: found?.versions ?? [] };
  }

  private async build(runtime: RepositoryRuntime): Promise<readonly CachedPackage[]> {
    const downloadOf = runtime.format.downloadOf!.bind(runtime.format);
    const names = new Map<string, Map<string, { updatedAt: Date; paths: string[] }>>();
    let after: string | undefined;
    let read = 0;
    do {
      const page = await runtime.handle.assets.list('', { ...(after !== undefined ? { after } : {}), limit: 1000 });
      for (const asset of page.assets) {
        // The stored path stands for the request path too: for a format that tells from the
        // request only, nothing matches (nothing is listed rather than something wrong).
        const of = downloadOf({ requestPath: asset.path, assetPath: asset.path, kind: asset.kind });
        if (!of || of.version === '') continue;
        let versions = names.get(of.name);
        if (!versions) names.set(of.name, (versions = new Map()));
        const version = versions.get(of.version);
        if (!version) versions.set(of.version, { updatedAt: asset.updatedAt, paths: [asset.path] });
        else {
          version.paths.push(asset.path);
          if (asset.updatedAt > version.updatedAt) version.updatedAt = asset.updatedAt;
        }
      }
      read += page.assets.length;
      after = page.next;
    } while (after !== undefined && read < MAX_ASSETS);
    return [...names]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, versions]) => ({
        name,
        versions: [...versions].sort(([a], [b]) => byVersion.compare(a, b)).map(([version, v]) => ({ version, updatedAt: v.updatedAt, paths: v.paths })),
      }));
  }
}

function asComponent(name: string, version: CachedVersion): Component {
  return { name, version: version.version, attributes: {}, updatedAt: version.updatedAt };
}
