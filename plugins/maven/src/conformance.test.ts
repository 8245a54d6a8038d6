import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFormatConformance, storedZip, type ConformanceAnswer, type ConformancePackage, type ConformanceTarget, type FormatConformanceAdapter, type HostileRequest } from '@registry-core/testing';

// The kernel's group contract on Maven, through the Maven 2 layout as mvn deploy and mvn
// resolution use it. A package is `groupId:artifactId`, a version a release version (the
// hosted and proxy repositories take releases only, as a `maven-releases` does). A publish is
// what mvn deploy sends: PUTs of the jar, the POM and their .sha1, with preemptive Basic
// credentials (the token as the password), then the artifact's maven-metadata.xml, read first
// and written back with the new version (the repository rebuilds it from what was deployed).
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const sha1 = (bytes: Buffer | string) => createHash('sha1').update(bytes).digest('hex');

/** A base's name, `com.example.<base>:<base>`: each package its own groupId, as Maven projects have. */
const mavenName = (base: string) => `com.example.${base}:${base}`;

/**
 * The coordinates of a name: `groupId:artifactId`. A name with no `:` (the suite's hostile
 * names) is taken for both, so that whatever it holds lands in the groupId's folders and in
 * the artifactId's.
 */
function coordinates(name: string): { groupId: string; artifactId: string } {
  const colon = name.indexOf(':');
  return colon < 0 ? { groupId: name, artifactId: name } : { groupId: name.slice(0, colon), artifactId: name.slice(colon + 1) };
}

/** `<groupId as folders>/<artifactId>/`, each segment escaped as a client that sends what it is given. */
function artifactFolder(name: string): string {
  const { groupId, artifactId } = coordinates(name);
  return `${groupId.split('.').map(encodeURIComponent).join('/')}/${encodeURIComponent(artifactId)}/`;
}

/** A file of a version: `<artifact folder>/<version>/<artifactId>-<version>.<extension>`. */
function versionFile(name: string, version: string, extension: string): string {
  return `${artifactFolder(name)}${encodeURIComponent(version)}/${encodeURIComponent(`${coordinates(name).artifactId}-${version}.${extension}`)}`;
}

const metadataFile = (name: string) => `${artifactFolder(name)}maven-metadata.xml`;

/** The jar of a conformance package: its content in a real jar (a zip with a manifest). */
const jarOf = (pkg: ConformancePackage) =>
  storedZip([
    ['META-INF/MANIFEST.MF', Buffer.from('Manifest-Version: 1.0\r\nCreated-By: registry-core conformance\r\n\r\n')],
    ['content.txt', pkg.content],
  ]);

const pom = (groupId: string, artifactId: string, version: string, prolog = '<?xml version="1.0" encoding="UTF-8"?>\n') =>
  `${prolog}<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version><packaging>jar</packaging></project>\n`;

function metadataXml(groupId: string, artifactId: string, versions: readonly string[]): string {
  const list = versions.map((v) => `<version>${v}</version>`).join('');
  const latest = versions[versions.length - 1] ?? '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<metadata><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><versioning><latest>${latest}</latest><release>${latest}</release><versions>${list}</versions><lastUpdated>20240101000000</lastUpdated></versioning></metadata>\n`;
}

/** The `<version>`s of a maven-metadata.xml's `<versions>`. */
function versionsOf(xml: string): string[] {
  const list = /<versions>([\s\S]*?)<\/versions>/.exec(xml)?.[1] ?? '';
  return [...list.matchAll(/<version>\s*([^<]*?)\s*<\/version>/g)].map((m) => m[1]!);
}

/** Basic credentials on every request, as mvn sends them once it knows the server wants them. */
const basic = (token: string) => `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}`;
const auth = (target: ConformanceTarget): Record<string, string> => (target.token ? { authorization: basic(target.token) } : {});

async function put(target: ConformanceTarget, file: string, body: Buffer | string, contentType: string): Promise<Response> {
  const response = await fetch(`${target.repositoryUrl}${file}`, { method: 'PUT', headers: { ...auth(target), 'content-type': contentType }, body });
  await response.arrayBuffer();
  return response;
}

async function readMetadata(target: ConformanceTarget, name: string): Promise<{ response: Response; versions?: string[] }> {
  const response = await fetch(`${target.repositoryUrl}${metadataFile(name)}`, { headers: auth(target) });
  if (response.status !== 200) {
    await response.arrayBuffer();
    return { response };
  }
  return { response, versions: versionsOf(await response.text()) };
}

const maven: FormatConformanceAdapter = {
  name: 'maven',
  plugin,
  format: 'maven',
  repositoryConfig: { hosted: { versionPolicy: 'release' }, proxy: { versionPolicy: 'release' } },
  packageName: mavenName,
  // Maven claims are groupId prefixes (`com.acme.*`).
  claimPattern: (prefix) => `com.example.${prefix}*`,
  namePath: (name) => artifactFolder(name).slice(0, -1),
  artifact: jarOf,
  async publish(target, pkg): Promise<ConformanceAnswer> {
    const { groupId, artifactId } = coordinates(pkg.name);
    const jar = jarOf(pkg);
    const descriptor = pom(groupId, artifactId, pkg.version);
    const files: [string, Buffer | string, string][] = [
      ['jar', jar, 'application/java-archive'],
      ['jar.sha1', sha1(jar), 'text/plain'],
      ['pom', descriptor, 'text/xml'],
      ['pom.sha1', sha1(descriptor), 'text/plain'],
    ];
    let first: Response | undefined;
    for (const [extension, body, contentType] of files) {
      const answer = await put(target, versionFile(pkg.name, pkg.version, extension), body, contentType);
      if (answer.status < 200 || answer.status > 299) return answer;
      first ??= answer;
    }
    // mvn reads the metadata there is, adds the version and uploads it with its checksum.
    const current = await readMetadata(target, pkg.name);
    if (current.response.status !== 200 && current.response.status !== 404) return current.response;
    const xml = metadataXml(groupId, artifactId, [...new Set([...(current.versions ?? []), pkg.version])]);
    for (const [file, body, contentType] of [
      [metadataFile(pkg.name), xml, 'text/xml'],
      [`${metadataFile(pkg.name)}.sha1`, sha1(xml), 'text/plain'],
    ] as const) {
      const answer = await put(target, file, body, contentType);
      if (answer.status < 200 || answer.status > 299) return answer;
    }
    return first!;
  },
  async readVersions(target, name) {
    const { response, versions } = await readMetadata(target, name);
    return { status: response.status, headers: response.headers, ...(versions ? { versions } : {}) };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}${versionFile(name, version, 'jar')}`, { headers: auth(target) });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, ...(response.status === 200 ? { bytes } : {}) };
  },
  // A Maven proxy's upstream is the repository's root URL, the folder holding `com/`.
  upstreamUrl: (repositoryUrl) => repositoryUrl,
  hostileRequests: ({ repository, group, token }) => {
    const authorization = basic(token);
    // The suite's seed, `rc-hostile-seed` 1.0.0, is deployed to the hosted repository.
    const seed = mavenName('rc-hostile-seed');
    const { groupId, artifactId } = coordinates(seed);
    const file = (version: string, extension: string) => versionFile(seed, version, extension);
    const deploy = (repo: string, label: string, target: string, body: string | Buffer, contentType = 'application/octet-stream'): HostileRequest => ({
      label: `${label} in ${repo}`,
      method: 'PUT',
      path: `/${repo}/${target}`,
      headers: { authorization, 'content-type': contentType },
      body,
    });
    const escape = 'rc-escape/rc-escape/1.0.0/rc-escape-1.0.0.jar';
    return [repository, group].flatMap((repo) => [
      // Checksums that disagree with the deployed jar (or are none).
      deploy(repo, 'a .sha1 that disagrees with the deployed jar', file('1.0.0', 'jar.sha1'), sha1('other bytes')),
      deploy(repo, 'a .sha1 in the "<hex>  <file>" form that disagrees with the deployed jar', file('1.0.0', 'jar.sha1'), `${sha1('other bytes')}  ${artifactId}-1.0.0.jar`),
      deploy(repo, 'a .sha1 that is not a checksum', file('1.0.0', 'jar.sha1'), 'not a checksum'),
      deploy(repo, 'a .md5 that disagrees with the deployed POM', file('1.0.0', 'pom.md5'), createHash('md5').update('other bytes').digest('hex')),
      // Coordinates that do not match the path.
      deploy(repo, 'a POM whose version is not its folder', file('2.0.0', 'pom'), pom(groupId, artifactId, '9.9.9'), 'text/xml'),
      deploy(repo, 'a POM whose groupId is not its folders', file('2.0.0', 'pom'), pom('com.example.elsewhere', artifactId, '2.0.0'), 'text/xml'),
      deploy(repo, 'a POM whose artifactId is not its folder', file('2.0.0', 'pom'), pom(groupId, 'rc-elsewhere', '2.0.0'), 'text/xml'),
      deploy(repo, 'a jar named after another artifact than its folder', `${artifactFolder(seed)}2.0.0/rc-elsewhere-2.0.0.jar`, 'jar'),
      deploy(repo, 'a jar named after another version than its folder', `${artifactFolder(seed)}2.0.0/${artifactId}-3.0.0.jar`, 'jar'),
      deploy(repo, 'a maven-metadata.xml naming another artifact', metadataFile(seed), metadataXml(groupId, 'rc-elsewhere', ['1.0.0', '2.0.0']), 'text/xml'),
      // Traversal in the folders of a deploy.
      deploy(repo, 'a jar path with dot-dot segments', `com/example/../../../${escape}`, 'jar'),
      deploy(repo, 'a jar path with encoded dot-dot segments', `com/example/%2e%2e/%2e%2e/%2e%2e/${escape}`, 'jar'),
      deploy(repo, 'a jar path with a mixed-case encoded dot-dot version', `${artifactFolder(seed)}%2E%2e/${artifactId}-..jar`, 'jar'),
      deploy(repo, 'a POM path with dot-dot segments after the artifact', `${artifactFolder(seed)}1.0.0/../../../../${escape.replace(/jar$/, 'pom')}`, pom('rc-escape', 'rc-escape', '1.0.0'), 'text/xml'),
      deploy(repo, 'a maven-metadata.xml path with encoded dot-dot segments', `com/example/%2e%2e/%2e%2e/rc-escape/maven-metadata.xml`, metadataXml('rc-escape', 'rc-escape', ['1.0.0']), 'text/xml'),
      // POMs and metadata that are not plain XML.
      deploy(repo, 'a POM that is not XML', file('2.0.0', 'pom'), 'this is not a POM', 'text/xml'),
      deploy(
        repo,
        'a POM with a DOCTYPE (an external entity)',
        file('2.0.0', 'pom'),
        pom(groupId, artifactId, '2.0.0', '<?xml version="1.0"?>\n<!DOCTYPE project [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n').replace('<packaging>jar</packaging>', '<name>&secret;</name>'),
        'text/xml',
      ),
      deploy(repo, 'a POM with a DOCTYPE (entity expansion)', file('2.0.0', 'pom'), pom(groupId, artifactId, '2.0.0', '<?xml version="1.0"?>\n<!DOCTYPE project [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'), 'text/xml'),
      deploy(repo, 'a maven-metadata.xml that is not XML', metadataFile(seed), 'not metadata', 'text/xml'),
      deploy(repo, 'a maven-metadata.xml with a DOCTYPE', metadataFile(seed), metadataXml(groupId, artifactId, ['1.0.0']).replace('<metadata>', '<!DOCTYPE metadata [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<metadata>'), 'text/xml'),
      // A release is deployed once.
      deploy(repo, 'a redeploy of a released jar', file('1.0.0', 'jar'), 'other jar bytes', 'application/java-archive'),
      deploy(repo, 'a redeploy of a released POM', file('1.0.0', 'pom'), pom(groupId, artifactId, '1.0.0').replace('<packaging>jar</packaging>', '<packaging>pom</packaging>'), 'text/xml'),
      // A SNAPSHOT build to a repository of releases.
      deploy(repo, 'a SNAPSHOT build to a release repository', `${artifactFolder(seed)}2.0.0-SNAPSHOT/${artifactId}-2.0.0-20240101.000000-1.jar`, 'jar'),
    ]);
  },
};

describeFormatConformance(maven);
