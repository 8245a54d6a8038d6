import semver from 'semver';

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

/** The abbreviated document of a full packument. */
export function abbreviate(doc: Packument): Packument {
  const versions: Record<string, VersionDocument> = {};
  for (const [v, full] of Object.entries(doc.versions)) {
    const small: Record<string, unknown> = {};
    for (const field of ABBREVIATED_VERSION_FIELDS) if (full[field] !== undefined) small[field] = full[field];
    if (small['hasInstallScript'] === undefined) {
      const scripts = full['scripts'] as Record<string, unknown> | undefined;
      if (scripts && (scripts['install'] || scripts['preinstall'] || scripts['postinstall'])) small['hasInstallScript'] = true;
    }
    versions[v] = small as VersionDocument;
  }
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

/** Point every version's tarball at this registry: `<baseUrl><name>/-/<file>`. */
export function rewriteTarballs(doc: Packument, baseUrl: string): void {
  for (const version of Object.values(doc.versions)) {
    if (!version?.dist) continue;
    const original = typeof version.dist.tarball === 'string' ? version.dist.tarball : '';
    if (!originalTarballs.has(version.dist)) originalTarballs.set(version.dist, original);
    const file = tarballBasename(original) ?? `${doc.name.split('/').pop()}-${version.version}.tgz`;
    version.dist.tarball = `${baseUrl}${doc.name}/-/${file}`;
  }
}

/** The file name at the end of a tarball URL or path. */
export function tarballBasename(url: string): string | undefined {
  const clean = url.split(/[?#]/)[0] ?? '';
  const file = clean.slice(clean.lastIndexOf('/') + 1);
  return file.endsWith('.tgz') ? decodeURIComponent(file) : undefined;
}

/**
 * Environments: `registry-environment: staging` makes `latest` point at the version of
 * the `staging` dist-tag, so one URL serves each line. An unknown tag changes nothing.
 * Returns a new document (a shallow copy): cached documents are never mutated.
 */
export function withEnvironment(doc: Packument, environment: string | undefined): Packument {
  if (!environment) return doc;
  const version = doc['dist-tags']?.[environment];
  if (!version || !doc.versions[version] || doc['dist-tags']['latest'] === version) return doc;
  return { ...doc, 'dist-tags': { ...doc['dist-tags'], latest: version } };
}

/** Highest version that is not a prerelease (else the highest), for a recomputed `latest`. */
export function highestVersion(versions: readonly string[]): string | undefined {
  const valid = versions.filter((v) => semver.valid(v));
  const stable = valid.filter((v) => !semver.prerelease(v));
  return semver.rsort(stable.length ? stable : valid)[0];
}

/**
 * Merge members' packuments (in member order): versions union, first member wins a
 * version; each dist-tag from the first member that has it; times merged; modified = max.
 */
export function mergePackuments(docs: readonly Packument[]): Packument | undefined {
  if (docs.length === 0) return undefined;
  if (docs.length === 1) return docs[0];
  const merged: Packument = { ...docs[0]!, versions: {}, 'dist-tags': {}, time: {} };
  for (const doc of docs) {
    for (const [v, version] of Object.entries(doc.versions ?? {})) if (!(v in merged.versions)) merged.versions[v] = version;
    for (const [tag, v] of Object.entries(doc['dist-tags'] ?? {})) if (!(tag in merged['dist-tags'])) merged['dist-tags'][tag] = v;
    for (const [k, t] of Object.entries(doc.time ?? {})) {
      const current = merged.time![k];
      if (current === undefined || (k === 'modified' && t > current)) merged.time![k] = t;
    }
  }
  for (const [tag, v] of Object.entries(merged['dist-tags'])) if (!merged.versions[v]) delete merged['dist-tags'][tag];
  merged.modified = merged.time?.['modified'];
  return merged;
}
