import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describeFormatConformance, ustarArchive, type ConformancePackage, type ConformanceTarget, type FormatConformanceAdapter } from '@registry-core/testing';
import tar from 'tar-stream';

// The kernel's group contract on Zig, through `POST /publish` and the package JSON API.
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A `.tar.gz` package: build.zig.zon (a zig 0.11-style string name) and one source file, under `<name>-<version>/`. */
export async function zigPackage(name: string, version: string, content: Buffer, extra: Record<string, string> = {}): Promise<Buffer> {
  const pack = tar.pack();
  const top = `${name}-${version}`;
  const files: Record<string, Buffer> = {
    'build.zig.zon': Buffer.from(`.{\n    .name = "${name}",\n    .version = "${version}",\n    .paths = .{ "build.zig.zon", "src" },\n}\n`),
    'src/root.zig': Buffer.concat([Buffer.from('// '), content]),
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, Buffer.from(v)])),
  };
  for (const [file, bytes] of Object.entries(files)) pack.entry({ name: `${top}/${file}`, mtime: new Date(0) }, bytes);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return gzipSync(Buffer.concat(chunks));
}

const artifacts = new Map<string, Promise<Buffer>>();
const artifact = (pkg: ConformancePackage) => {
  const key = `${pkg.name}@${pkg.version}@${pkg.content.toString('hex')}`;
  if (!artifacts.has(key)) artifacts.set(key, zigPackage(pkg.name, pkg.version, pkg.content));
  return artifacts.get(key)!;
};

const auth = (target: ConformanceTarget): Record<string, string> => (target.token ? { authorization: `Bearer ${target.token}` } : {});

const zig: FormatConformanceAdapter = {
  name: 'zig',
  plugin,
  format: 'zig',
  repositoryConfig: { proxy: { packages: true } },
  artifact,
  async publish(target, pkg) {
    const form = new FormData();
    form.set('tarball', new Blob([await artifact(pkg)], { type: 'application/gzip' }), `${pkg.name}-${pkg.version}.tar.gz`);
    form.set('description', 'conformance test package');
    const response = await fetch(`${target.repositoryUrl}publish`, { method: 'POST', headers: auth(target), body: form });
    await response.arrayBuffer();
    return response;
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}packages/${encodeURIComponent(name)}/versions`, { headers: auth(target) });
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status, headers: response.headers };
    }
    const doc = (await response.json()) as { versions?: string[] };
    return { status: response.status, headers: response.headers, versions: doc.versions ?? [] };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}packages/${encodeURIComponent(name)}/${encodeURIComponent(version)}/tarball`, { headers: auth(target) });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, ...(response.status === 200 ? { bytes } : {}) };
  },
  hostileRequests: ({ repository, group, token }) => {
    const headers = { authorization: `Bearer ${token}` };
    const zon = '.{ .name = "NAME", .version = "1.0.0" }';
    const multipart = (archive: Buffer) => {
      const boundary = 'rc-zig-boundary';
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="tarball"; filename="p.tar.gz"\r\ncontent-type: application/gzip\r\n\r\n`),
        archive,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      return { headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` }, body };
    };
    // Raw ustar headers: tar-stream would refuse to write some of these names.
    const tarOf = (files: [string, string][]) => gzipSync(ustarArchive(files));
    // A .tar.xz made by Debian's xz, one byte of its compressed data flipped.
    const corruptXz = execFileSync('xz', ['--compress', '--stdout'], { input: ustarArchive([['p/build.zig.zon', zon.replace('NAME', 'rc-hostile')], ['p/src/a.zig', 'x'.repeat(2000)]]) });
    corruptXz[Math.floor(corruptXz.length / 2)]! ^= 0xff;
    return [repository, group].flatMap((repo) => [
      { label: `an archive with a dot-dot entry to ${repo}`, method: 'POST', path: `/${repo}/publish`, ...multipart(tarOf([['p/build.zig.zon', zon.replace('NAME', 'rc-hostile')], ['p/../../escape.zig', 'x']])) },
      { label: `an archive with an absolute entry to ${repo}`, method: 'POST', path: `/${repo}/publish`, ...multipart(tarOf([['p/build.zig.zon', zon.replace('NAME', 'rc-hostile')], ['/etc/escape.zig', 'x']])) },
      { label: `an archive whose manifest names a path ${repo}`, method: 'POST', path: `/${repo}/publish`, ...multipart(tarOf([['p/build.zig.zon', zon.replace('NAME', '../rc-hostile')]])) },
      { label: `an archive without build.zig.zon to ${repo}`, method: 'POST', path: `/${repo}/publish`, ...multipart(tarOf([['p/src/a.zig', 'x']])) },
      { label: `an unparsable build.zig.zon to ${repo}`, method: 'POST', path: `/${repo}/publish`, ...multipart(tarOf([['p/build.zig.zon', '.{ .name = "rc-hostile", .version = ']])) },
      { label: `a version zig refuses to ${repo}`, method: 'POST', path: `/${repo}/publish`, ...multipart(tarOf([['p/build.zig.zon', '.{ .name = "rc-hostile", .version = "01.0" }']])) },
      { label: `a corrupt .tar.xz to ${repo}`, method: 'POST', path: `/${repo}/publish`, ...multipart(corruptXz) },
      { label: `a tarball path with dot-dot segments in ${repo}`, method: 'GET', path: `/${repo}/packages/rc-hostile/..%2f..%2fetc/tarball` },
      { label: `a hash lookup of a path in ${repo}`, method: 'GET', path: `/${repo}/hash/..%2f..%2fetc%2fpasswd` },
    ]);
  },
};

describeFormatConformance(zig);
