import { describeCrashPoints, type CrashPackage, type CrashTarget } from '@registry-core/testing';
import { packageTarball, publishBody } from '../helpers/npm-publish-body.js';
import { cliBin } from '../helpers/registry-process.js';

// `npm publish` is one PUT of the packument with the tarball attached (base64): the harness
// kills the registry at each write it makes and checks the tarball is never served alone.
const tarballs = new Map<string, Buffer>();
const key = (pkg: CrashPackage) => `${pkg.name}@${pkg.version}:${pkg.content.toString('hex')}`;
const auth = (target: CrashTarget): Record<string, string> => (target.token ? { authorization: `Bearer ${target.token}` } : {});

describeCrashPoints({
  name: 'npm',
  cli: cliBin,
  format: 'npm',
  async publish(target, pkg) {
    const manifest = { name: pkg.name, version: pkg.version, description: 'crash point test' };
    const tarball = tarballs.get(key(pkg)) ?? (await packageTarball(manifest, [{ name: 'package/content.txt', content: pkg.content }]));
    tarballs.set(key(pkg), tarball);
    const response = await fetch(`${target.repositoryUrl}${encodeURIComponent(pkg.name)}`, {
      method: 'PUT',
      headers: { ...auth(target), 'content-type': 'application/json', 'npm-command': 'publish' },
      body: publishBody(manifest, tarball),
    });
    return { ok: response.ok, status: response.status, detail: await response.text() };
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}${encodeURIComponent(name)}`, { headers: auth(target) });
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status };
    }
    return { status: 200, versions: Object.keys(((await response.json()) as { versions?: object }).versions ?? {}) };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}${name}/-/${name}-${version}.tgz`, { headers: auth(target) });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
  },
  artifact: (pkg) => tarballs.get(key(pkg))!,
  // A retry of a publish that had landed: npm's "cannot modify pre-existing version".
  alreadyPublished: (result) => result.status === 403 && /pre-existing version/.test(result.detail ?? ''),
});
