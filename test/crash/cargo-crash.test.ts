import { describeCrashPoints, type CrashPackage, type CrashTarget } from '@registry-core/testing';
import { crateFile, publishBody, publishJson } from '../../plugins/cargo/src/testing/crate-files.js';
import { cliBin } from '../helpers/registry-process.js';

// cargo publish: one PUT of the framed JSON and .crate. The registry stores the .crate
// (pending), then the crate's document with its index line: the harness kills it at each.
const auth = (target: CrashTarget): Record<string, string> => (target.token ? { authorization: target.token } : {});
/** The .crate of each package published, for `artifact` (which must answer at once). */
const crates = new Map<string, Buffer>();
const crateOf = async (pkg: CrashPackage) => {
  const key = `${pkg.name}@${pkg.version}@${pkg.content.toString('hex')}`;
  if (!crates.has(key)) crates.set(key, await crateFile(pkg.name, pkg.version, pkg.content));
  return crates.get(key)!;
};
const indexPath = (name: string) => `${name.slice(0, 2)}/${name.slice(2, 4)}/${name}`;

describeCrashPoints({
  name: 'cargo',
  cli: cliBin,
  format: 'cargo',
  async publish(target, pkg) {
    const body = publishBody(publishJson(pkg.name, pkg.version), await crateOf(pkg));
    const response = await fetch(`${target.repositoryUrl}api/v1/crates/new`, { method: 'PUT', headers: { ...auth(target), 'content-type': 'application/octet-stream' }, body });
    return { ok: response.ok, status: response.status, detail: `${response.statusText} ${await response.text()}` };
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}${indexPath(name.toLowerCase())}`, { headers: auth(target) });
    const text = await response.text();
    if (response.status !== 200) return { status: response.status };
    return { status: 200, versions: text.split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as { vers: string }).vers) };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}api/v1/crates/${name}/${version}/download`, { headers: auth(target) });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
  },
  artifact: (pkg) => crates.get(`${pkg.name}@${pkg.version}@${pkg.content.toString('hex')}`)!,
  // cargo checks the index before it uploads; the server's answer to a version that had landed.
  alreadyPublished: (result) => result.status === 400 && /already uploaded/.test(result.detail ?? ''),
});
