import { child, childText, children, parseXml, type PackageDependency, type PackageView, type RepositoryHandle, type RepositoryInfo, type XmlElement } from '@registry-core/api';
import { hostedVersions } from './hosted.js';
import { listStored } from './listing.js';
import { parseMetadata } from './metadata.js';
import { METADATA_FILE, parseMavenPath } from './paths.js';
import { sortVersions } from './versions.js';

/** Largest POM (or cached maven-metadata.xml) read for a view. */
const MAX_POM_BYTES = 1024 * 1024;

/** `groupId:artifactId`, both checked as a Maven path would be; `undefined` otherwise. */
function coordinatesOf(name: string): { groupId: string; artifactId: string; folder: string } | undefined {
  const [groupId = '', artifactId = '', ...rest] = name.split(':');
  if (groupId === '' || artifactId === '' || rest.length > 0) return undefined;
  const folder = `${groupId.split('.').join('/')}/${artifactId}/`;
  try {
    // The same checks as a request for the folder's metadata: no `..`, separators or control characters.
    const parsed = parseMavenPath(`/${folder}${METADATA_FILE}`);
    return parsed.kind === 'metadata' ? { groupId, artifactId, folder } : undefined;
  } catch {
    return undefined;
  }
}

/** The versions of an artifact: a hosted repository's deploys, or the `maven-metadata.xml` a proxy cached. */
async function versionsOf(repository: RepositoryHandle, groupId: string, artifactId: string, folder: string): Promise<string[]> {
  const hosted = await hostedVersions(repository, groupId, artifactId);
  if (hosted) return sortVersions(Object.keys(hosted));
  const cached = await repository.assets.get(`${folder}${METADATA_FILE}`);
  if (!cached) return [];
  const metadata = await cached.withBytes(MAX_POM_BYTES, (bytes) => parseMetadata(bytes.toString('utf8'))).catch(() => undefined);
  return sortVersions(metadata?.versioning?.versions ?? []);
}

/** What a POM says for people: its name, description, url, licenses and dependencies (with their scope). */
export function pomView(pom: string): Pick<PackageView, 'description' | 'dependencies' | 'facts'> {
  let project: XmlElement;
  try {
    project = parseXml(pom);
  } catch {
    return {};
  }
  if (project.name !== 'project') return {};
  const facts: Record<string, string> = {};
  const name = childText(project, 'name');
  if (name) facts['name'] = name;
  const url = childText(project, 'url');
  if (url) facts['url'] = url;
  const licenses = children(child(project, 'licenses'), 'license')
    .map((l) => childText(l, 'name') ?? childText(l, 'url'))
    .filter((l): l is string => l !== undefined);
  if (licenses.length) facts['licenses'] = licenses.join(', ');
  const packaging = childText(project, 'packaging');
  if (packaging) facts['packaging'] = packaging;
  const parent = child(project, 'parent');
  if (parent) facts['parent'] = [childText(parent, 'groupId'), childText(parent, 'artifactId'), childText(parent, 'version')].filter(Boolean).join(':');
  const dependencies: PackageDependency[] = children(child(project, 'dependencies'), 'dependency').map((d) => ({
    name: `${childText(d, 'groupId') ?? ''}:${childText(d, 'artifactId') ?? ''}${childText(d, 'classifier') ? `:${childText(d, 'classifier')}` : ''}`,
    range: childText(d, 'version') ?? '',
    kind: [childText(d, 'scope') ?? 'compile', ...(childText(d, 'optional') === 'true' ? ['optional'] : [])].join(', '),
  }));
  const description = childText(project, 'description');
  return { ...(description ? { description } : {}), dependencies, facts };
}

/**
 * An artifact (`groupId:artifactId`) for people (FormatDefinition.packageView): its versions'
 * newest (or the one asked), that version's POM (name, description, url, licenses,
 * dependencies with scope) and its files (jar, pom, sources, signatures: the host adds sizes
 * and digests). A proxy shows what it cached; nothing is asked of the upstream.
 */
export async function mavenPackageView(repository: RepositoryHandle, name: string, version: string | undefined): Promise<PackageView | undefined> {
  const coordinates = coordinatesOf(name);
  if (!coordinates) return undefined;
  const { groupId, artifactId, folder } = coordinates;
  const versions = await versionsOf(repository, groupId, artifactId, folder);
  const shown = version ?? versions.at(-1);
  if (shown === undefined || (version !== undefined && !versions.includes(version))) return undefined;
  const versionFolder = `${folder}${shown}/`;
  const stored = (await listStored(repository.assets, versionFolder)).filter((e) => !e.directory);
  // A SNAPSHOT version's newest build sorts last among its timestamped POMs.
  const pomName = stored
    .map((e) => e.name)
    .filter((n) => n.endsWith('.pom'))
    .sort()
    .at(-1);
  const pomAsset = pomName ? await repository.assets.get(`${versionFolder}${pomName}`) : undefined;
  const pom = pomAsset ? await pomAsset.withBytes(MAX_POM_BYTES, (bytes) => pomView(bytes.toString('utf8'))).catch(() => ({})) : {};
  return {
    version: shown,
    ...pom,
    files: stored.filter((e) => e.name !== METADATA_FILE).map((e) => ({ path: `${versionFolder}${e.name}`, name: e.name })),
  };
}

/** The dependency to declare (FormatDefinition.installLines): Maven's `<dependency>` and Gradle's coordinates. */
export function mavenInstallLines(repository: RepositoryInfo, name: string, version: string | undefined): string[] {
  const [groupId = '', artifactId = ''] = name.split(':');
  const shown = version ?? 'VERSION';
  return [
    `<dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${shown}</version></dependency>`,
    `implementation("${groupId}:${artifactId}:${shown}")`,
    `mvn dependency:get -Dartifact=${groupId}:${artifactId}:${shown} -DremoteRepositories=${repository.name}::default::${repository.url}`,
  ];
}
