import type { PackageDependency, PackageView, RepositoryHandle, RepositoryInfo } from '@registry-core/api';
import { parseCoreMetadata } from './core-metadata.js';
import { filePath, loadHostedProject } from './hosted.js';
import { normalizeName } from './names.js';
import { compareVersions } from './versions.js';

/** Largest core metadata file read for its description. */
const MAX_METADATA_BYTES = 4 * 1024 * 1024;

/**
 * A hosted project for people (FormatDefinition.packageView): the release's summary, its
 * description (the README, from the stored core metadata of its first file), its
 * `Requires-Dist` (an `extra == "x"` marker names the kind) and its files.
 */
export async function pypiPackageView(repository: RepositoryHandle, name: string, version: string | undefined): Promise<PackageView | undefined> {
  const normalized = normalizeName(name);
  const project = (await loadHostedProject(repository, normalized))?.value;
  if (!project) return undefined;
  const shown = version ?? Object.keys(project.releases).sort(compareVersions).at(-1);
  const release = shown ? project.releases[shown] : undefined;
  if (!shown || !release) return undefined;
  const files = Object.values(project.files)
    .filter((f) => f.version === shown)
    .sort((a, b) => (a.filename < b.filename ? -1 : 1));
  let readme: string | undefined;
  const first = files[0];
  if (first) {
    const metadata = await repository.assets.get(`${filePath(normalized, first.filename)}.metadata`);
    if (metadata) readme = await metadata.withBytes(MAX_METADATA_BYTES, (bytes) => parseCoreMetadata(bytes.toString('utf8')).description?.trim() || undefined).catch(() => undefined);
  }
  const dependencies: PackageDependency[] = release.requiresDist.map((requirement) => {
    const [spec, marker = ''] = requirement.split(';', 2).map((s) => s.trim());
    const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*\(?([^)]*)\)?$/.exec(spec ?? '');
    const extra = /extra\s*==\s*["']([^"']+)["']/.exec(marker)?.[1];
    return { name: match?.[1] ?? spec ?? requirement, range: [match?.[3]?.trim(), marker && !extra ? `; ${marker}` : ''].filter(Boolean).join(' '), kind: extra ? `extra ${extra}` : 'runtime' };
  });
  const facts: Record<string, string> = {};
  if (release.license) facts['license'] = release.license;
  if (release.requiresPython) facts['requires python'] = release.requiresPython;
  if (release.author) facts['author'] = release.author;
  if (release.homePage) facts['homepage'] = release.homePage;
  return {
    version: shown,
    ...(release.summary ? { description: release.summary } : {}),
    ...(readme ? { readme } : {}),
    dependencies,
    files: files.map((f) => ({ path: filePath(normalized, f.filename), name: f.filename })),
    facts,
  };
}

/** `pip install --index-url <url>simple/ <name>==<version>` (FormatDefinition.installLines). */
export function pypiInstallLines(repository: RepositoryInfo, name: string, version: string | undefined): string[] {
  return [`pip install --index-url ${repository.url}simple/ ${name}${version ? `==${version}` : ''}`];
}
