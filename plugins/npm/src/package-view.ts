import type { PackageDependency, PackageView, RepositoryHandle, RepositoryInfo } from '@registry-core/api';
import { parseName } from './names.js';
import type { Packument } from './packument.js';
import { packumentKey } from './reads.js';

type Json = Record<string, unknown>;
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The dependency kinds of a package.json, as npm names them. */
const KINDS: readonly [string, string][] = [
  ['dependencies', 'runtime'],
  ['peerDependencies', 'peer'],
  ['optionalDependencies', 'optional'],
  ['devDependencies', 'dev'],
];

/** A hosted package for people (FormatDefinition.packageView): README, dist-tags, dependencies and tarball of a version. */
export async function npmPackageView(repository: RepositoryHandle, name: string, version: string | undefined): Promise<PackageView | undefined> {
  let parsed;
  try {
    parsed = parseName(name);
  } catch {
    return undefined;
  }
  const stored = await repository.documents.get<Packument>(packumentKey(parsed));
  if (!stored) return undefined;
  const doc = stored.value;
  const shown = version ?? doc['dist-tags']['latest'] ?? Object.keys(doc.versions).at(-1);
  const manifest = (shown ? doc.versions[shown] : undefined) as Json | undefined;
  const dependencies: PackageDependency[] = [];
  for (const [field, kind] of KINDS) {
    const deps = manifest?.[field];
    if (deps && typeof deps === 'object') for (const [dep, range] of Object.entries(deps as Json)) dependencies.push({ name: dep, range: String(range), kind });
  }
  const dist = manifest?.['dist'] as Json | undefined;
  const tarball = text(dist?.['tarball']);
  const facts: Record<string, string> = {};
  const license = text(manifest?.['license']) ?? text((doc as Json)['license']);
  if (license) facts['license'] = license;
  const homepage = text(manifest?.['homepage']);
  if (homepage) facts['homepage'] = homepage;
  const deprecated = text(manifest?.['deprecated']);
  if (deprecated) facts['deprecated'] = deprecated;
  const description = text(manifest?.['description']) ?? text((doc as Json)['description']);
  const readme = text((doc as Json)['readme']);
  return {
    ...(shown ? { version: shown } : {}),
    ...(description ? { description } : {}),
    ...(readme ? { readme } : {}),
    tags: doc['dist-tags'],
    dependencies,
    // Tarballs are stored at the path the document names (`<name>/-/<file>`).
    files: tarball && !/^[a-z]+:/i.test(tarball) ? [{ path: tarball, name: tarball.split('/').at(-1)! }] : [],
    facts,
  };
}

/** `npm install <name>@<version> --registry <url>` (FormatDefinition.installLines). */
export function npmInstallLines(repository: RepositoryInfo, name: string, version: string | undefined): string[] {
  return [`npm install ${name}${version ? `@${version}` : ''} --registry ${repository.url}`];
}
