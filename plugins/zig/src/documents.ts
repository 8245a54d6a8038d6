import { BadRequestError } from '@registry-core/api';
import type { PackageDigest } from './package-hash.js';
import { validatePackageName, validateVersion } from './manifest.js';

/** One published version, as stored in a hosted package document and served as JSON. */
export interface VersionRecord {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  /** The hash a `build.zig.zon` should carry: zig 0.14's form when the manifest has a fingerprint, else the `1220…` multihash. */
  readonly hash: string;
  readonly hashes: { readonly multihash: string; readonly multihash011?: string; readonly packageHash?: string };
  readonly sha256: string;
  readonly size: number;
  /** `zip` archives are read by zig 0.13 and later only. */
  readonly archive: PublishedArchive;
  readonly publishedAt: string;
  readonly minimumZigVersion?: string;
  readonly dependencies: Readonly<Record<string, { readonly url?: string; readonly hash?: string; readonly path?: string }>>;
}

/** The archive forms a version can be published as (zig reads `.tar.xz` from 0.11, `.zip` from 0.13). */
export type PublishedArchive = 'tar.gz' | 'tar.xz' | 'zip';

/** A hosted package: `package/<name>`. */
export interface PackageDocument {
  readonly name: string;
  readonly description?: string;
  readonly versions: Readonly<Record<string, VersionRecord>>;
}

/** A version as a client reads it: the record with its URL under the repository it was asked through. */
export interface VersionView extends VersionRecord {
  readonly tarballUrl: string;
  /** The command that adds it to a project's `build.zig.zon` (zig 0.12 and later). */
  readonly fetch: string;
  /** The `.dependencies` entry to paste into `build.zig.zon`. */
  readonly dependency: string;
}

export const packageKey = (name: string) => `package/${name}`;
export const tarballPath = (name: string, version: string) => `packages/${name}/${version}/archive`;
export const tarballUrl = (baseUrl: string, name: string, version: string) => `${baseUrl}packages/${encodeURIComponent(name)}/${encodeURIComponent(version)}/tarball`;

/** The `.dependencies` entry for a package at `url` with `hash`. */
export function dependencySnippet(name: string, url: string, hash: string): string {
  const field = /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `.${name}` : `.@"${name}"`;
  return `${field} = .{\n    .url = "${url}",\n    .hash = "${hash}",\n},`;
}

export function viewOf(record: VersionRecord, baseUrl: string): VersionView {
  const url = tarballUrl(baseUrl, record.name, record.version);
  return { ...record, tarballUrl: url, fetch: `zig fetch --save ${url}`, dependency: dependencySnippet(record.name, url, record.hash) };
}

export function recordOf(digest: PackageDigest, file: { sha256: string; size: number }, archive: PublishedArchive, description: string | undefined, now: string): VersionRecord {
  const manifest = digest.manifest!;
  return {
    name: manifest.name,
    version: manifest.version,
    ...(description ? { description } : {}),
    hash: digest.packageHash ?? digest.multihash,
    hashes: { multihash: digest.multihash, ...(digest.multihash011 && digest.multihash011 !== digest.multihash ? { multihash011: digest.multihash011 } : {}), ...(digest.packageHash ? { packageHash: digest.packageHash } : {}) },
    sha256: file.sha256,
    size: file.size,
    archive,
    publishedAt: now,
    ...(manifest.minimumZigVersion ? { minimumZigVersion: manifest.minimumZigVersion } : {}),
    dependencies: manifest.dependencies,
  };
}

/** Semantic versions in precedence order (SemVer 2.0.0 §11; build metadata ignored). */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [core, pre] = v.split('+')[0]!.split(/-(.*)/s) as [string, string | undefined];
    return { nums: core.split('.').map(Number), pre: pre === undefined ? [] : pre.split('.') };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < 3; i++) if (x.nums[i] !== y.nums[i]) return (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The newest version that is not a prerelease (else the newest of all). */
export function latestOf(versions: readonly string[]): string | undefined {
  const sorted = [...versions].sort(compareVersions);
  return sorted.filter((v) => !v.split('+')[0]!.includes('-')).at(-1) ?? sorted.at(-1);
}

/**
 * A package document from an upstream registry of this layout (hostile): its versions'
 * names, versions, hashes and digests checked; anything malformed is left out.
 */
export function sanitizeUpstreamPackage(value: unknown, name: string): PackageDocument | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const doc = value as { name?: unknown; description?: unknown; versions?: unknown };
  if (doc.name !== name || !Array.isArray(doc.versions)) return undefined;
  const versions: Record<string, VersionRecord> = Object.create(null);
  for (const entry of doc.versions.slice(0, 10_000) as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const v = entry as Record<string, unknown>;
    try {
      if (v['name'] !== name || typeof v['version'] !== 'string') continue;
      validateVersion(v['version']);
      const hashes = (typeof v['hashes'] === 'object' && v['hashes'] !== null ? v['hashes'] : {}) as Record<string, unknown>;
      const str = (x: unknown) => (typeof x === 'string' ? x : undefined);
      if (typeof v['hash'] !== 'string' || typeof hashes['multihash'] !== 'string' || typeof v['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(v['sha256'])) continue;
      versions[v['version']] = {
        name,
        version: v['version'],
        ...(str(v['description']) ? { description: str(v['description'])!.slice(0, 4096) } : {}),
        hash: v['hash'],
        hashes: { multihash: hashes['multihash'] as string, ...(str(hashes['multihash011']) ? { multihash011: str(hashes['multihash011'])! } : {}), ...(str(hashes['packageHash']) ? { packageHash: str(hashes['packageHash'])! } : {}) },
        sha256: v['sha256'],
        size: typeof v['size'] === 'number' ? v['size'] : 0,
        archive: v['archive'] === 'zip' || v['archive'] === 'tar.xz' ? v['archive'] : 'tar.gz',
        publishedAt: str(v['publishedAt']) ?? '',
        ...(str(v['minimumZigVersion']) ? { minimumZigVersion: str(v['minimumZigVersion'])! } : {}),
        dependencies: {},
      };
    } catch (error) {
      if (!(error instanceof BadRequestError)) throw error;
    }
  }
  try {
    validatePackageName(name);
  } catch {
    return undefined;
  }
  return { name, ...(typeof doc.description === 'string' ? { description: doc.description.slice(0, 4096) } : {}), versions };
}

/** A package document as clients read it. */
export function packageView(doc: PackageDocument, baseUrl: string) {
  const versions = Object.keys(doc.versions).sort(compareVersions);
  return {
    name: doc.name,
    ...(doc.description ? { description: doc.description } : {}),
    latest: latestOf(versions) ?? null,
    versions: versions.map((v) => viewOf(doc.versions[v]!, baseUrl)),
  };
}
