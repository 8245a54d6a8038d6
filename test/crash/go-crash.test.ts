import { describeCrashPoints, type CrashPackage, type CrashTarget } from '@registry-core/testing';
import { moduleZip } from '../helpers/go.js';
import { cliBin } from '../helpers/registry-process.js';

// A Go module publish: one PUT of the version's module zip. The registry stores the zip, the
// go.mod derived from it and the module document: the harness kills it at each.
const modulePath = (name: string) => `example.com/${name}`;
const goVersion = (version: string) => `v${version}`;
const auth = (target: CrashTarget): Record<string, string> => (target.token ? { authorization: `Bearer ${target.token}` } : {});
const zip = (pkg: CrashPackage) => moduleZip(modulePath(pkg.name), goVersion(pkg.version), { 'go.mod': `module ${modulePath(pkg.name)}\n`, 'c.go': `package c\n\nconst C = "${pkg.content.toString('hex')}"\n` });

describeCrashPoints({
  name: 'go',
  cli: cliBin,
  format: 'go',
  async publish(target, pkg) {
    const response = await fetch(`${target.repositoryUrl}${modulePath(pkg.name)}/@v/${goVersion(pkg.version)}.zip`, { method: 'PUT', headers: auth(target), body: zip(pkg) });
    return { ok: response.ok, status: response.status, detail: await response.text() };
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}${modulePath(name)}/@v/list`, { headers: auth(target) });
    const text = await response.text();
    if (response.status !== 200) return { status: response.status };
    return { status: 200, versions: text.split('\n').filter((v) => v !== '').map((v) => v.replace(/^v/, '')) };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}${modulePath(name)}/@v/${goVersion(version)}.zip`, { headers: auth(target) });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
  },
  artifact: zip,
  // A version that had landed: "409 ... is already published".
  alreadyPublished: (result) => result.status === 409 && /already published/.test(result.detail ?? ''),
});
