import { UpstreamError, type CacheStatus, type Asset, type Logger, type ProxyRepositoryHandle } from '@registry-core/api';
import { escapeCase, versionProblem } from './module-path.js';
import { goModHash, goModModulePath, MAX_GO_MOD_BYTES, MAX_ZIP_BYTES } from './module-zip.js';
import { checkUpstreamFile, sumCheckFor, zipHash } from './sumcheck.js';

/** The largest `.info` or `@latest` answer taken from an upstream. */
const MAX_INFO_BYTES = 64 * 1024;

/** A version's `.info` (and `@latest`'s answer). */
export interface VersionInfo {
  readonly Version: string;
  readonly Time?: string;
}

const escaped = (module: string) => escapeCase(module);

/** The upstream's `@v/list`, cached with the repository's TTL; versions that cannot be this module's are left out. */
export async function upstreamList(repo: ProxyRepositoryHandle, module: string): Promise<{ versions: string[]; cache: CacheStatus } | undefined> {
  const path = `${escaped(module)}/@v/list`;
  const result = await repo.upstream.fetch({ path, kind: 'metadata', contentType: 'text/plain; charset=utf-8', maxBytes: repo.limits.maxMetadataBytes });
  if (!result.found) return undefined;
  const text = await result.asset.withBytes(repo.limits.maxMetadataBytes, (bytes) => bytes.toString('utf8'));
  const versions = [...new Set(text.split('\n').map((line) => line.trim()).filter((v) => v !== '' && versionProblem(module, v) === undefined))];
  return { versions, cache: result.cache };
}

/** A `.info`-shaped JSON answer of the upstream, checked. */
function parseInfo(bytes: Buffer, module: string, what: string): VersionInfo {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new UpstreamError(`the upstream's ${what} for ${module} is not JSON`);
  }
  const info = value as { Version?: unknown; Time?: unknown };
  if (typeof info?.Version !== 'string' || versionProblem(module, info.Version) !== undefined) throw new UpstreamError(`the upstream's ${what} for ${module} names no valid version`);
  return { Version: info.Version, ...(typeof info.Time === 'string' ? { Time: info.Time } : {}) };
}

/** The upstream's `@latest`, cached with the repository's TTL. */
export async function upstreamLatest(repo: ProxyRepositoryHandle, module: string): Promise<{ info: VersionInfo; cache: CacheStatus } | undefined> {
  const result = await repo.upstream.fetch({ path: `${escaped(module)}/@latest`, kind: 'metadata', contentType: 'application/json', maxBytes: MAX_INFO_BYTES });
  if (!result.found) return undefined;
  return { info: parseInfo(await result.asset.read(MAX_INFO_BYTES), module, '@latest'), cache: result.cache };
}

/**
 * A version's `.info` or `.mod`: immutable, cached for good once checked (the `.info` must
 * name the version asked for, the `.mod` this module or none, and its `h1:` the checksum
 * database's); what fails the check is dropped again and answered 502.
 */
export async function upstreamVersionFile(repo: ProxyRepositoryHandle, logger: Logger, module: string, version: string, kind: 'info' | 'mod'): Promise<{ asset: Asset; cache: CacheStatus } | undefined> {
  const path = `${escaped(module)}/@v/${escapeCase(version)}.${kind}`;
  const max = kind === 'info' ? MAX_INFO_BYTES : MAX_GO_MOD_BYTES;
  const result = await repo.upstream.fetch({ path, kind: 'content', contentType: kind === 'info' ? 'application/json' : 'text/plain; charset=utf-8', maxBytes: max });
  if (!result.found) return undefined;
  try {
    const bytes = await result.asset.read(max);
    if (kind === 'info') {
      const info = parseInfo(bytes, module, `${version}.info`);
      if (info.Version !== version) throw new UpstreamError(`the upstream's ${version}.info for ${module} names ${info.Version}`);
    } else {
      const named = goModModulePath(bytes.toString('utf8'));
      if (named !== undefined && named !== module) throw new UpstreamError(`the upstream's go.mod of ${module}@${version} names the module ${named}`);
    }
  } catch (error) {
    await repo.assets.delete(path).catch(() => undefined);
    throw error;
  }
  if (kind === 'mod') await checkUpstreamFile(repo, logger, { module, version, kind, asset: result.asset, h1: async () => goModHash(await result.asset.read(max)) });
  return { asset: result.asset, cache: result.cache };
}

/**
 * A version's `.zip`, cached for good. Checked against the checksum database (see
 * sumcheck.ts), it is stored whole and hashed before it is served; a module the repository
 * does not check is streamed to the client while it is stored.
 */
export async function serveUpstreamZip(repo: ProxyRepositoryHandle, logger: Logger, module: string, version: string) {
  const request = { path: `${escaped(module)}/@v/${escapeCase(version)}.zip`, kind: 'content', contentType: 'application/zip', maxBytes: MAX_ZIP_BYTES } as const;
  if (!sumCheckFor(repo, module)) return repo.upstream.serve(request);
  const result = await repo.upstream.fetch(request);
  if (!result.found) return result;
  await checkUpstreamFile(repo, logger, { module, version, kind: 'zip', asset: result.asset, h1: () => zipHash(result.asset, module, version) });
  return { found: true as const, cache: result.cache, body: { kind: 'asset' as const, asset: result.asset } };
}

/**
 * `@v/<query>.info` for a branch or commit: the upstream's answer (the canonical version it
 * resolves to), cached as metadata with the TTL (a branch moves).
 */
export async function upstreamQuery(repo: ProxyRepositoryHandle, module: string, query: string): Promise<{ info: VersionInfo; cache: CacheStatus } | undefined> {
  const result = await repo.upstream.fetch({ path: `${escaped(module)}/@v/${escapeCase(query)}.info`, kind: 'metadata', contentType: 'application/json', maxBytes: MAX_INFO_BYTES });
  if (!result.found) return undefined;
  return { info: parseInfo(await result.asset.read(MAX_INFO_BYTES), module, `${query}.info`), cache: result.cache };
}
