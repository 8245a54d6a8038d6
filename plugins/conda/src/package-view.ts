import { type PackageDependency, type PackageFile, type PackageView, type RepositoryHandle, type RepositoryInfo } from '@registry-core/api';
import { loadChannel, loadHostedRepodata, newer, packagePath } from './hosted.js';
import { isValidName, isValidSubdir } from './names.js';
import type { PackageRecord } from './repodata.js';

/** One build of a package: its subdir, file name and repodata record. */
interface Build {
  readonly subdir: string;
  readonly filename: string;
  readonly record: PackageRecord;
}

/** Every build of `name` in the subdirs the channel document lists it in (from their stored repodata, nothing else read). */
async function buildsOf(repository: RepositoryHandle, name: string): Promise<Build[]> {
  const subdirs = (await loadChannel(repository))?.value.packages[name]?.subdirs ?? [];
  const builds: Build[] = [];
  for (const subdir of subdirs) {
    if (!isValidSubdir(subdir)) continue;
    const repodata = (await loadHostedRepodata(repository, subdir))?.value;
    for (const section of ['packages', 'packages.conda'] as const) {
      for (const [filename, record] of Object.entries(repodata?.[section] ?? {})) if (record.name === name) builds.push({ subdir, filename, record });
    }
  }
  return builds.sort((a, b) => (a.subdir === b.subdir ? (a.filename < b.filename ? -1 : 1) : a.subdir < b.subdir ? -1 : 1));
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/**
 * A package for people (FormatDefinition.packageView): of its newest version (or the one
 * asked) every build, per subdir, as files, with the match specs they depend on (`depends`,
 * and `constrains`) named by the builds that carry them, and the license. No summary: the
 * repodata conda solves from carries none (it is in the package's `info/about.json`, which
 * an upload does not keep).
 */
export async function condaPackageView(repository: RepositoryHandle, name: string, version: string | undefined): Promise<PackageView | undefined> {
  if (!isValidName(name)) return undefined;
  const builds = await buildsOf(repository, name);
  const shown = version ?? builds.reduce<string | undefined>((latest, b) => (latest === undefined || newer(b.record.version, latest) ? b.record.version : latest), undefined);
  const chosen = builds.filter((b) => b.record.version === shown);
  if (shown === undefined || chosen.length === 0) return undefined;
  const dependencies: PackageDependency[] = [];
  for (const { subdir, record } of chosen) {
    const where = chosen.length > 1 ? ` (${subdir} ${record.build})` : '';
    for (const spec of strings(record.depends)) dependencies.push({ ...split(spec), kind: `run${where}` });
    for (const spec of strings(record['constrains'])) dependencies.push({ ...split(spec), kind: `constrains${where}` });
  }
  const facts: Record<string, string> = {};
  const license = chosen.map((b) => b.record['license']).find((l): l is string => typeof l === 'string' && l !== '');
  if (license) facts['license'] = license;
  const family = chosen.map((b) => b.record['license_family']).find((l): l is string => typeof l === 'string' && l !== '');
  if (family) facts['license family'] = family;
  const perSubdir = new Map<string, string[]>();
  for (const b of chosen) perSubdir.set(b.subdir, [...(perSubdir.get(b.subdir) ?? []), `${b.record.build}`]);
  facts['builds'] = [...perSubdir].map(([subdir, names]) => `${subdir}: ${names.join(', ')}`).join('; ');
  const files: PackageFile[] = chosen.map((b) => ({ path: packagePath(b.subdir, b.filename), name: `${b.subdir}/${b.filename}` }));
  return { version: shown, dependencies, files, facts };
}

/** A match spec (`python >=3.8,<4.0a0`) as a name and the rest. */
function split(spec: string): { name: string; range: string } {
  const at = spec.search(/[\s=<>!~[]/);
  return at < 0 ? { name: spec, range: '' } : { name: spec.slice(0, at), range: spec.slice(at).trim() };
}

/** `conda install -c <channel> <name>=<version>` (FormatDefinition.installLines). */
export function condaInstallLines(repository: RepositoryInfo, name: string, version: string | undefined): string[] {
  const channel = repository.url.replace(/\/$/, '');
  const spec = version ? `"${name}=${version}"` : name;
  return [`conda install --override-channels -c ${channel} ${spec}`, `micromamba install -c ${channel} ${spec}`];
}
