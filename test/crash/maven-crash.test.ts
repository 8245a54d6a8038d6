import { createHash } from 'node:crypto';
import { describeCrashPoints, storedZip, type CrashPackage, type CrashTarget } from '@registry-core/testing';
import { cliBin } from '../helpers/registry-process.js';

// What `mvn deploy` sends for a release: the jar and its .sha1, the POM and its .sha1, then
// maven-metadata.xml (read, then written back with the version). The harness kills the
// registry at each write of that sequence; the retry is the whole sequence again, as a
// second `mvn deploy` sends it, and must complete.
const sha1 = (bytes: Buffer | string) => createHash('sha1').update(bytes).digest('hex');
const GROUP = 'com.example.crash';
const folder = (name: string) => `${GROUP.replace(/\./g, '/')}/${name}/`;
const file = (name: string, version: string, extension: string) => `${folder(name)}${version}/${name}-${version}.${extension}`;
const auth = (target: CrashTarget): Record<string, string> =>
  target.token ? { authorization: `Basic ${Buffer.from(`__token__:${target.token}`).toString('base64')}` } : {};

const jar = (pkg: CrashPackage) =>
  storedZip([
    ['META-INF/MANIFEST.MF', Buffer.from('Manifest-Version: 1.0\r\nCreated-By: registry-core crash points\r\n\r\n')],
    ['content.txt', pkg.content],
  ]);
const pom = (pkg: CrashPackage) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>${GROUP}</groupId><artifactId>${pkg.name}</artifactId><version>${pkg.version}</version><packaging>jar</packaging></project>\n`;
const versionsOf = (xml: string) => [...(/<versions>([\s\S]*?)<\/versions>/.exec(xml)?.[1] ?? '').matchAll(/<version>\s*([^<]*?)\s*<\/version>/g)].map((m) => m[1]!);

describeCrashPoints({
  name: 'maven',
  cli: cliBin,
  format: 'maven',
  async publish(target, pkg) {
    const put = async (path: string, body: Buffer | string, type: string) => {
      const response = await fetch(`${target.repositoryUrl}${path}`, { method: 'PUT', headers: { ...auth(target), 'content-type': type }, body });
      return { ok: response.ok, status: response.status, detail: `PUT ${path}: ${await response.text()}` };
    };
    const steps: [string, Buffer | string, string][] = [
      [file(pkg.name, pkg.version, 'jar'), jar(pkg), 'application/java-archive'],
      [`${file(pkg.name, pkg.version, 'jar')}.sha1`, sha1(jar(pkg)), 'text/plain'],
      [file(pkg.name, pkg.version, 'pom'), pom(pkg), 'text/xml'],
      [`${file(pkg.name, pkg.version, 'pom')}.sha1`, sha1(pom(pkg)), 'text/plain'],
    ];
    for (const [path, body, type] of steps) {
      const result = await put(path, body, type);
      if (!result.ok) return result;
    }
    const current = await fetch(`${target.repositoryUrl}${folder(pkg.name)}maven-metadata.xml`, { headers: auth(target) });
    const versions = current.status === 200 ? versionsOf(await current.text()) : (await current.arrayBuffer(), []);
    const list = [...new Set([...versions, pkg.version])].map((v) => `<version>${v}</version>`).join('');
    const metadata = `<?xml version="1.0" encoding="UTF-8"?>\n<metadata><groupId>${GROUP}</groupId><artifactId>${pkg.name}</artifactId><versioning><latest>${pkg.version}</latest><release>${pkg.version}</release><versions>${list}</versions><lastUpdated>20240101000000</lastUpdated></versioning></metadata>\n`;
    return put(`${folder(pkg.name)}maven-metadata.xml`, metadata, 'text/xml');
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}${folder(name)}maven-metadata.xml`, { headers: auth(target) });
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status };
    }
    return { status: 200, versions: versionsOf(await response.text()) };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}${file(name, version, 'jar')}`, { headers: auth(target) });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
  },
  artifact: jar,
});
