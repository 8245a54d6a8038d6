import { child, childText, parseXml, PACKAGE_VIEW_LIMITS, type PackageView, type RepositoryHandle, type RepositoryInfo, type XmlElement } from '@registry-core/api';
import { loadHosted, nupkgPath, nuspecPath } from './hosted.js';
import { validateId } from './ids.js';
import { readStoredMember } from './nupkg.js';
import { sortedKeys } from './package-document.js';
import { keyOf } from './versions.js';

/** Largest stored .nuspec read for a view (the push refuses larger ones). */
const MAX_NUSPEC_BYTES = 1024 * 1024;

/** What the stored .nuspec adds to the package document: its license, the README's path in the package, the repository URL. */
interface NuspecExtras {
  readonly license?: string;
  readonly readme?: string;
  readonly repository?: string;
}

/** {@link NuspecExtras} of a .nuspec; none of a document that is not well-formed XML. */
function nuspecExtras(text: string): NuspecExtras {
  let metadata: XmlElement | undefined;
  try {
    metadata = child(parseXml(text.replace(/^\uFEFF/, '')), 'metadata');
  } catch {
    return {};
  }
  const license = child(metadata, 'license');
  const repository = child(metadata, 'repository')?.attributes['url'];
  const readme = childText(metadata, 'readme');
  return {
    ...(license?.text ? { license: license.attributes['type'] === 'file' ? `file ${license.text}` : license.text } : {}),
    ...(readme ? { readme } : {}),
    ...(repository ? { repository } : {}),
  };
}

/**
 * A package for people (FormatDefinition.packageView): of its newest version (or the one
 * asked) the .nuspec's description, authors, license, project URL and dependency groups (one
 * dependency kind per target framework), the README the .nuspec names (read from the stored
 * .nupkg by ranged reads: its central directory and that one member), and the .nupkg.
 */
export async function nugetPackageView(repository: RepositoryHandle, name: string, version: string | undefined): Promise<PackageView | undefined> {
  let lid: string;
  let asked: string | undefined;
  try {
    lid = validateId(name).toLowerCase();
    asked = version === undefined ? undefined : keyOf(version);
  } catch {
    return undefined;
  }
  const doc = (await loadHosted(repository, lid))?.value;
  if (!doc) return undefined;
  const keys = sortedKeys(doc);
  const key = asked ?? keys.filter((k) => doc.versions[k]!.listed).at(-1) ?? keys.at(-1);
  const entry = key === undefined ? undefined : doc.versions[key];
  if (key === undefined || !entry) return undefined;
  const nuspec = await repository.assets.get(nuspecPath(lid, key));
  const extras: NuspecExtras = nuspec ? await nuspec.withBytes(MAX_NUSPEC_BYTES, (bytes) => nuspecExtras(bytes.toString('utf8'))).catch(() => ({})) : {};
  let readme: string | undefined;
  const nupkg = await repository.assets.get(nupkgPath(lid, key));
  if (extras.readme && nupkg) readme = (await readStoredMember(nupkg, extras.readme, PACKAGE_VIEW_LIMITS.readme))?.toString('utf8');
  const facts: Record<string, string> = {};
  if (entry.authors) facts['authors'] = entry.authors;
  if (extras.license) facts['license'] = extras.license;
  else if (entry.licenseUrl) facts['license'] = entry.licenseUrl;
  if (entry.projectUrl) facts['project URL'] = entry.projectUrl;
  if (extras.repository) facts['repository'] = extras.repository;
  if (entry.tags) facts['tags'] = entry.tags;
  const frameworks = (entry.dependencyGroups ?? []).map((g) => g.targetFramework).filter((f): f is string => f !== undefined);
  if (frameworks.length) facts['target frameworks'] = frameworks.join(', ');
  if (!entry.listed) facts['listed'] = 'no';
  return {
    version: key,
    ...(entry.description ? { description: entry.description } : {}),
    ...(readme ? { readme } : {}),
    dependencies: (entry.dependencyGroups ?? []).flatMap((group) => group.dependencies.map((d) => ({ name: d.id, range: d.range, kind: group.targetFramework ?? 'any framework' }))),
    files: [{ path: nupkgPath(lid, key), name: `${lid}.${key}.nupkg` }],
    facts,
  };
}

/** `dotnet add package <id> --version <version> --source <index>` (FormatDefinition.installLines). */
export function nugetInstallLines(repository: RepositoryInfo, name: string, version: string | undefined): string[] {
  return [`dotnet add package ${name}${version ? ` --version ${version}` : ''} --source ${repository.url}v3/index.json`];
}
