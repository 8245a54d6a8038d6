import { createHash } from 'node:crypto';
import { describeCrashPoints, storedZip, type CrashPackage, type CrashTarget } from '@registry-core/testing';
import { cliBin } from '../helpers/registry-process.js';

// twine's upload: one multipart POST of the wheel with its form fields. The registry stores
// the wheel, its core metadata file and the project document: the harness kills it at each.
const distName = (name: string) => name.replace(/[-_.]+/g, '_');
const wheelName = (pkg: CrashPackage) => `${distName(pkg.name)}-${pkg.version}-py3-none-any.whl`;
const auth = (target: CrashTarget): Record<string, string> =>
  target.token ? { authorization: `Basic ${Buffer.from(`__token__:${target.token}`).toString('base64')}` } : {};

function wheel(pkg: CrashPackage): Buffer {
  const info = `${distName(pkg.name)}-${pkg.version}.dist-info`;
  return storedZip([
    [`${distName(pkg.name)}.py`, Buffer.from(`CONTENT = "${pkg.content.toString('hex')}"\n`)],
    [`${info}/METADATA`, Buffer.from(`Metadata-Version: 2.1\nName: ${pkg.name}\nVersion: ${pkg.version}\nSummary: crash point test\n`)],
    [`${info}/WHEEL`, Buffer.from('Wheel-Version: 1.0\nGenerator: registry-core-crash\nRoot-Is-Purelib: true\nTag: py3-none-any\n')],
    [`${info}/RECORD`, Buffer.from('')],
  ]);
}

describeCrashPoints({
  name: 'pypi',
  cli: cliBin,
  format: 'pypi',
  async publish(target, pkg) {
    const file = wheel(pkg);
    const form = new FormData();
    form.set(':action', 'file_upload');
    form.set('protocol_version', '1');
    form.set('name', pkg.name);
    form.set('version', pkg.version);
    form.set('filetype', 'bdist_wheel');
    form.set('pyversion', 'py3');
    form.set('metadata_version', '2.1');
    form.set('sha256_digest', createHash('sha256').update(file).digest('hex'));
    form.set('content', new Blob([file], { type: 'application/octet-stream' }), wheelName(pkg));
    const response = await fetch(target.repositoryUrl, { method: 'POST', headers: auth(target), body: form });
    return { ok: response.ok, status: response.status, detail: `${response.statusText} ${await response.text()}` };
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}simple/${encodeURIComponent(name)}/`, { headers: { ...auth(target), accept: 'application/vnd.pypi.simple.v1+json' } });
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status };
    }
    return { status: 200, versions: ((await response.json()) as { versions?: string[] }).versions ?? [] };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}packages/${name}/${wheelName({ name, version, content: Buffer.alloc(0) })}`, { headers: auth(target) });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
  },
  artifact: wheel,
  // twine's answer to a file that had landed: "400 File already exists." (--skip-existing passes it).
  alreadyPublished: (result) => result.status === 400 && /File already exists/.test(result.detail ?? ''),
});
