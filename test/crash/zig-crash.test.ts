import { gzipSync } from 'node:zlib';
import { describeCrashPoints, ustarArchive, type CrashPackage, type CrashTarget } from '@registry-core/testing';
import { cliBin } from '../helpers/registry-process.js';

// A zig publish: one multipart POST of the archive. The registry stores the archive (pending),
// the hash lookups and the package document: the harness kills it at each.
const auth = (target: CrashTarget): Record<string, string> => (target.token ? { authorization: `Bearer ${target.token}` } : {});

function archive(pkg: CrashPackage): Buffer {
  const top = `${pkg.name}-${pkg.version}`;
  return gzipSync(
    ustarArchive({
      [`${top}/build.zig.zon`]: `.{ .name = "${pkg.name}", .version = "${pkg.version}" }\n`,
      [`${top}/src/root.zig`]: `// ${pkg.content.toString('hex')}\n`,
    }),
  );
}

describeCrashPoints({
  name: 'zig',
  cli: cliBin,
  format: 'zig',
  async publish(target, pkg) {
    const form = new FormData();
    form.set('tarball', new Blob([archive(pkg)], { type: 'application/gzip' }), `${pkg.name}-${pkg.version}.tar.gz`);
    const response = await fetch(`${target.repositoryUrl}publish`, { method: 'POST', headers: auth(target), body: form });
    return { ok: response.ok, status: response.status, detail: `${response.statusText} ${await response.text()}` };
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}packages/${encodeURIComponent(name)}/versions`, { headers: auth(target) });
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status };
    }
    return { status: 200, versions: ((await response.json()) as { versions?: string[] }).versions ?? [] };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}packages/${encodeURIComponent(name)}/${encodeURIComponent(version)}/tarball`, { headers: auth(target) });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
  },
  artifact: archive,
  // A version that had landed: 409, versions are immutable.
  alreadyPublished: (result) => result.status === 409,
});
