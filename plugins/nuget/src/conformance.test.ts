import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pushBody } from './testing/push-body.js';
import { describeFormatConformance, storedZip, type ConformancePackage, type ConformanceTarget, type FormatConformanceAdapter, type HostileRequest } from '@registry-core/testing';

// The kernel's group contract on NuGet, through the push API (`PUT api/v2/package`, the
// API key in X-NuGet-ApiKey) and the v3 flat container dotnet restores from. Each version
// is a tiny .nupkg built here, in memory.
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\0/g, '&#0;');

export function nupkg(pkg: ConformancePackage): Buffer {
  const nuspec = `<?xml version="1.0" encoding="utf-8"?><package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata><id>${escape(pkg.name)}</id><version>${pkg.version}</version><authors>conformance</authors><description>conformance test package</description></metadata></package>`;
  return storedZip([
    ['package.nuspec', Buffer.from(nuspec)],
    ['content/data.txt', pkg.content],
  ]);
}

const key = (target: ConformanceTarget): Record<string, string> => (target.token ? { 'x-nuget-apikey': target.token } : {});

const nuget: FormatConformanceAdapter = {
  name: 'nuget',
  plugin,
  format: 'nuget',
  artifact: nupkg,
  async publish(target, pkg) {
    const { contentType, body } = pushBody(nupkg(pkg));
    const response = await fetch(`${target.repositoryUrl}api/v2/package`, { method: 'PUT', headers: { ...key(target), 'content-type': contentType }, body });
    await response.arrayBuffer();
    return response;
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}v3-flatcontainer/${encodeURIComponent(name.toLowerCase())}/index.json`, { headers: key(target) });
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status, headers: response.headers };
    }
    const index = (await response.json()) as { versions?: string[] };
    return { status: 200, headers: response.headers, versions: index.versions ?? [] };
  },
  async readArtifact(target, name, version) {
    const id = encodeURIComponent(name.toLowerCase());
    const v = encodeURIComponent(version.toLowerCase());
    const response = await fetch(`${target.repositoryUrl}v3-flatcontainer/${id}/${v}/${id}.${v}.nupkg`, { headers: key(target) });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, ...(response.status === 200 ? { bytes } : {}) };
  },
  // A proxy of a registry-core NuGet repository reads its service index.
  upstreamUrl: (repositoryUrl) => `${repositoryUrl}v3/index.json`,
  hostileRequests: ({ repository, group, token }) => {
    const push = (pkg: Buffer) => {
      const { contentType, body } = pushBody(pkg);
      return { headers: { 'x-nuget-apikey': token, 'content-type': contentType }, body };
    };
    const valid = nupkg({ name: 'rc-hostile', version: '1.0.0', content: Buffer.from('x') });
    return [repository, group].flatMap((repo): HostileRequest[] => [
      { label: `push a package with a dot-dot entry to ${repo}`, method: 'PUT', path: `/${repo}/api/v2/package`, ...push(storedZip([['package.nuspec', Buffer.from('<package><metadata><id>rc-hostile</id><version>1.0.0</version></metadata></package>')], ['../../evil.txt', Buffer.from('x')]])) },
      { label: `push a package with an absolute entry to ${repo}`, method: 'PUT', path: `/${repo}/api/v2/package`, ...push(storedZip([['package.nuspec', Buffer.from('<package><metadata><id>rc-hostile</id><version>1.0.0</version></metadata></package>')], ['/etc/evil.txt', Buffer.from('x')]])) },
      { label: `push something that is not a zip to ${repo}`, method: 'PUT', path: `/${repo}/api/v2/package`, ...push(Buffer.from('not a zip at all')) },
      { label: `push a package without a .nuspec to ${repo}`, method: 'PUT', path: `/${repo}/api/v2/package`, ...push(storedZip([['content/a.txt', Buffer.from('x')]])) },
      { label: `push a package with an invalid version to ${repo}`, method: 'PUT', path: `/${repo}/api/v2/package`, ...push(storedZip([['p.nuspec', Buffer.from('<package><metadata><id>rc-hostile</id><version>1.0.0.0.0</version></metadata></package>')]])) },
      { label: `push a package with a DOCTYPE (entity expansion) to ${repo}`, method: 'PUT', path: `/${repo}/api/v2/package`, ...push(storedZip([['p.nuspec', Buffer.from('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><package><metadata><id>rc-hostile</id><version>1.0.0</version><description>&e;</description></metadata></package>')]])) },
      { label: `push without an API key to ${repo}`, method: 'PUT', path: `/${repo}/api/v2/package`, ...push(valid), headers: { 'content-type': pushBody(valid).contentType } },
      { label: `push with a wrong API key to ${repo}`, method: 'PUT', path: `/${repo}/api/v2/package`, ...push(valid), headers: { 'content-type': pushBody(valid).contentType, 'x-nuget-apikey': 'not-a-token' } },
      { label: `a flat-container file with dot-dot segments in ${repo}`, method: 'GET', path: `/${repo}/v3-flatcontainer/rc-hostile/..%2f..%2fetc/passwd` },
      { label: `a registration of an id with a slash in ${repo}`, method: 'GET', path: `/${repo}/v3/registration/rc-a%2f..%2frc-b/index.json` },
      { label: `a v2 entry with a hostile id in ${repo}`, method: 'GET', path: `/${repo}/api/v2/Packages(Id='..%2f..%2fetc',Version='1.0.0')` },
      { label: `a v2 query with a $filter the feed does not implement in ${repo}`, method: 'GET', path: `/${repo}/api/v2/Packages()?$filter=tolower(Id)%20eq%20'rc-hostile'` },
      { label: `unlist with an invalid version in ${repo}`, method: 'DELETE', path: `/${repo}/api/v2/package/rc-hostile/not..a..version`, headers: { 'x-nuget-apikey': token } },
    ]);
  },
};

describeFormatConformance(nuget);
