import { UpstreamError, forEachEntryYielding, forEachYielding, yielder } from '@registry-core/api';
import semver from 'semver';
import { tarballFile, type PackageName } from './names.js';
import { isTarballFileName } from './paths.js';

/** One version of a package as the registry stores and serves it. */
export interface VersionDocument {
  name: string;
  version: string;
  deprecated?: string;
  dist: { tarball: string; shasum?: string; integrity?: string; fileCount?: number; unpackedSize?: number; [k: string]: unknown };
  [field: string]: unknown;
}

/** A package document ("packument"). */
export interface Packument {
  _id?: string;
  _rev?: string;
  name: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, VersionDocument>;
  time?: Record<string, string>;
  modified?: string;
  [field: string]: unknown;
}

/** Version fields an installer needs: the abbreviated ("corgi") document keeps only these. */
const ABBREVIATED_VERSION_FIELDS = [
  'name',
  'version',
  'dependencies',
  'optionalDependencies',
  'devDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'bundleDependencies',
  'bundledDependencies',
  'acceptDependencies',
  'bin',
  'directories',
  'engines',
  'os',
  'cpu',
  'libc',
  'funding',
  'deprecated',
  '_hasShrinkwrap',
  'hasInstallScript',
  'dist',
] as const;

export const ABBREVIATED_TYPE = 'application/vnd.npm.install-v1+json';

/** True when the Accept header asks for the abbreviated document first. */
export function wantsAbbreviated(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().split(';');
    if (type?.trim() !== ABBREVIATED_TYPE) return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * The abbreviated document of a full packument. Version by version, yielding to the event
 * loop every few milliseconds (a packument can have tens of thousands of versions).
 */
export async function abbreviate(doc: Packument): Promise<Packument> {
  const versions: Record<string, VersionDocument> = {};
  await forEachEntryYielding(doc.versions, (v, full) => {
    const small: Record<string, unknown> = {};
    for (const field of ABBREVIATED_VERSION_FIELDS) if (full[field] !== undefined) small[field] = full[field];
    if (small['hasInstallScript'] === undefined) {
      const scripts = full['scripts'] as Record<string, unknown> | undefined;
      if (scripts && (scripts['install'] || scripts['preinstall'] || scripts['postinstall'])) small['hasInstallScript'] = true;
    }
    versions[v] = small as VersionDocument;
  });
  return {
    name: doc.name,
    modified: doc.modified ?? doc.time?.['modified'] ?? new Date(0).toISOString(),
    'dist-tags': doc['dist-tags'],
    versions,
  };
}

/** Where each rewritten version's tarball was before {@link rewriteTarballs}. */
const originalTarballs = new WeakMap<object, string>();

/** The tarball URL a version had before it was rewritten (the upstream's). */
export function originalTarball(version: VersionDocument): string | undefined {
  return originalTarballs.get(version.dist) ?? (typeof version.dist?.tarball === 'string' ? version.dist.tarball : undefined);
}

/**
 * The file name a version's tarball is served under: the one at the end of its original
 * URL when that is a plain `*.tgz` name, else npm's `<base>-<version>.tgz`.
 */
export function servedTarballFile(name: PackageName, version: VersionDocument): string {
  const original = tarballBasename(originalTarball(version) ?? '');
  return original !== undefined && isTarballFileName(original) ? original : tarballFile(name, String(version.version));
}

/**
 * Point every version's tarball at this registry: `<baseUrl><name>/-/<file>`. The name is
 * the one the client asked for, never the document's own (an upstream's document is not
 * trusted to say where its tarballs live). Mutates `doc`; yields to the event loop every
 * few milliseconds.
 */
export async function rewriteTarballs(doc: Packument, baseUrl: string, name: PackageName): Promise<void> {
  await forEachYielding(Object.values(doc.versions), (version) => {
    if (!version?.dist) return;
    const original = typeof version.dist.tarball === 'string' ? version.dist.tarball : '';
    if (!originalTarballs.has(version.dist)) originalTarballs.set(version.dist, original);
    version.dist.tarball = `${baseUrl}${name.name}/-/${servedTarballFile(name, version)}`;
  });
}

/** The file name at the end of a tarball URL or path. */
export function tarballBasename(url: string): string | undefined {
  const clean = url.split(/[?#]/)[0] ?? '';
  const file = clean.slice(clean.lastIndexOf('/') + 1);
  if (!file.endsWith('.tgz')) return undefined;
  try {
    return decodeURIComponent(file);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Check an upstream's answer is a package document and drop what would break serving it:
 * versions that are not objects or not valid semver keys, version entries without a
 * `dist` object, dist-tags that are not strings or name no listed version, a `time` that
 * is not an object. Mutates and resolves `value` (yielding to the event loop every few
 * milliseconds); rejects with an UpstreamError when it is not a package document at all.
 */
export async function sanitizeUpstreamPackument(value: unknown, name: PackageName): Promise<Packument> {
  if (!isRecord(value) || !isRecord(value['versions'])) throw new UpstreamError(`the upstream's document for ${name.name} is not a package document`);
  const versions = value['versions'];
  await forEachEntryYielding(versions, (v, version) => {
    if (!isRecord(version) || !isRecord(version['dist']) || semver.valid(v, { loose: true }) === null) delete versions[v];
    else if (typeof version['version'] !== 'string') version['version'] = v;
  });
  const tags = isRecord(value['dist-tags']) ? value['dist-tags'] : {};
  for (const [tag, v] of Object.entries(tags)) if (typeof v !== 'string' || !isRecord(versions[v])) delete tags[tag];
  value['dist-tags'] = tags;
  if (value['time'] !== undefined && !isRecord(value['time'])) delete value['time'];
  if (typeof value['name'] !== 'string') value['name'] = name.name;
  return value as unknown as Packument;
}

/**
 * Environments: `registry-environment: staging` makes `latest` point at the version of
 * the `staging` dist-tag, so one URL serves each line. An unknown tag (or one naming no
 * listed version) changes nothing. Returns a new document (a shallow copy) when it
 * changes anything: cached documents are never mutated.
 */
export function withEnvironment(doc: Packument, environment: string | undefined): Packument {
  if (!environment) return doc;
  const tags = doc['dist-tags'] ?? {};
  const version = Object.hasOwn(tags, environment) ? tags[environment] : undefined;
  if (!version || !doc.versions[version] || tags['latest'] === version) return doc;
  return { ...doc, 'dist-tags': { ...tags, latest: version } };
}

/** Highest version that is not a prerelease (else the highest), for a recomputed `latest`. */
export function highestVersion(versions: readonly string[]): string | undefined {
  const valid = versions.filter((v) => semver.valid(v));
  const stable = valid.filter((v) => !semver.prerelease(v));
  return semver.rsort(stable.length ? stable : valid)[0];
}

/**
 * `semver.maxSatisfying(versions, range)`, looking at the versions in slices that yield to
 * the event loop (a packument can list tens of thousands). `undefined` for an invalid range
 * or when none satisfies it.
 */
export async function maxSatisfyingYielding(versions: readonly string[], range: string): Promise<string | undefined> {
  let parsed: semver.Range;
  try {
    parsed = new semver.Range(range);
  } catch {
    return undefined;
  }
  const pause = yielder();
  let max: semver.SemVer | undefined;
  let found: string | undefined;
  for (let i = 0; i < versions.length; i++) {
    const v = versions[i]!;
    if (parsed.test(v) && (max === undefined || max.compare(v) === -1)) {
      found = v;
      max = new semver.SemVer(v);
    }
    if ((i & 63) === 63 && pause.due()) await pause();
  }
  return found;
}

/**
 * Merge members' packuments (in member order): versions union, first member wins a
 * version; each dist-tag from the first member that has it (and lists its version);
 * times merged (first member wins a version's time, `created` is the earliest,
 * `modified` the latest). One document is resolved as it is. Yields to the event loop
 * every few milliseconds.
 */
export async function mergePackuments(docs: readonly Packument[]): Promise<Packument | undefined> {
  if (docs.length === 0) return undefined;
  if (docs.length === 1) return docs[0];
  const merged: Packument = { ...docs[0]!, versions: {}, 'dist-tags': {}, time: {} };
  const time = merged.time!;
  let modified: string | undefined;
  for (const doc of docs) {
    await forEachEntryYielding(doc.versions ?? {}, (v, version) => {
      if (!Object.hasOwn(merged.versions, v)) merged.versions[v] = version;
    });
    for (const [tag, v] of Object.entries(doc['dist-tags'] ?? {})) {
      if (!Object.hasOwn(merged['dist-tags'], tag) && doc.versions?.[v]) merged['dist-tags'][tag] = v;
    }
    await forEachEntryYielding(doc.time ?? {}, (k, t) => {
      if (typeof t !== 'string') return;
      const current = time[k];
      if (current === undefined || (k === 'modified' && t > current) || (k === 'created' && t < current)) time[k] = t;
    });
    for (const m of [doc.modified, doc.time?.['modified']]) if (typeof m === 'string' && (modified === undefined || m > modified)) modified = m;
  }
  if (modified !== undefined) {
    time['modified'] = modified;
    merged.modified = modified;
  } else delete merged.modified;
  return merged;
}
