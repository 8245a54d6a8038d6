import { type PackageView, type RepositoryHandle, type RepositoryInfo } from '@registry-core/api';
import { latestOf, packageKey, tarballPath, tarballUrl, type PackageDocument } from './documents.js';
import { validatePackageName } from './manifest.js';

/**
 * A hosted package for people (FormatDefinition.packageView): of its newest version (or the
 * one asked) the `build.zig.zon` dependencies (by URL, or local path), the hash to pin, the
 * minimum Zig version and the archive.
 */
export async function zigPackageView(repository: RepositoryHandle, name: string, version: string | undefined): Promise<PackageView | undefined> {
  try {
    validatePackageName(name);
  } catch {
    return undefined;
  }
  const doc = (await repository.documents.get<PackageDocument>(packageKey(name)))?.value;
  if (!doc) return undefined;
  const shown = version ?? latestOf(Object.keys(doc.versions));
  const record = shown === undefined ? undefined : doc.versions[shown];
  if (!shown || !record) return undefined;
  const description = record.description ?? doc.description;
  return {
    version: shown,
    ...(description ? { description } : {}),
    dependencies: Object.entries(record.dependencies).map(([dep, d]) => ({ name: dep, range: d.url ?? d.path ?? '', kind: d.path !== undefined ? 'path' : 'url' })),
    files: [{ path: tarballPath(name, shown), name: `${name}-${shown}.${record.archive}` }],
    facts: { hash: record.hash, ...(record.minimumZigVersion ? { 'minimum zig version': record.minimumZigVersion } : {}) },
  };
}

/** `zig fetch --save <tarball URL>` (FormatDefinition.installLines); without a version, `<version>` to fill in. */
export function zigInstallLines(repository: RepositoryInfo, name: string, version: string | undefined): string[] {
  return [`zig fetch --save ${tarballUrl(repository.url, name, version ?? '<version>')}`];
}
