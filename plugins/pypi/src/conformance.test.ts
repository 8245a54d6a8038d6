import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFormatConformance, storedZip, type ConformancePackage, type ConformanceTarget, type FormatConformanceAdapter } from '@registry-core/testing';

// The kernel's group contract on PyPI, through the upload API twine speaks and the simple
// API (PEP 691 JSON) pip reads. Each version is a tiny wheel built here, in memory.
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The wheel's file name part of a project name (PEP 427: runs of `-_.` become `_`). */
const distName = (name: string) => name.replace(/[-_.]+/g, '_');
const wheelName = (name: string, version: string) => `${distName(name)}-${version}-py3-none-any.whl`;

function wheel(pkg: ConformancePackage): Buffer {
  const info = `${distName(pkg.name)}-${pkg.version}.dist-info`;
  const metadata = `Metadata-Version: 2.1\nName: ${pkg.name}\nVersion: ${pkg.version}\nSummary: conformance test package\n`;
  return storedZip([
    [`${distName(pkg.name)}.py`, Buffer.concat([Buffer.from('CONTENT = """'), pkg.content, Buffer.from('"""\n')])],
    [`${info}/METADATA`, Buffer.from(metadata)],
    [`${info}/WHEEL`, Buffer.from('Wheel-Version: 1.0\nGenerator: registry-core-conformance\nRoot-Is-Purelib: true\nTag: py3-none-any\n')],
    [`${info}/RECORD`, Buffer.from('')],
  ]);
}

/** twine's credentials: the token as the password of `__token__`. */
const auth = (target: ConformanceTarget): Record<string, string> =>
  target.token ? { authorization: `Basic ${Buffer.from(`__token__:${target.token}`).toString('base64')}` } : {};

const pypi: FormatConformanceAdapter = {
  name: 'pypi',
  plugin,
  format: 'pypi',
  artifact: wheel,
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
    form.set('content', new Blob([file], { type: 'application/octet-stream' }), wheelName(pkg.name, pkg.version));
    const response = await fetch(target.repositoryUrl, { method: 'POST', headers: auth(target), body: form });
    await response.arrayBuffer();
    return response;
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}simple/${encodeURIComponent(name)}/`, {
      headers: { ...auth(target), accept: 'application/vnd.pypi.simple.v1+json' },
      redirect: 'manual',
    });
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status, headers: response.headers };
    }
    const page = (await response.json()) as { versions?: string[] };
    return { status: response.status, headers: response.headers, versions: page.versions ?? [] };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}packages/${encodeURIComponent(name)}/${encodeURIComponent(wheelName(name, version))}`, { headers: auth(target) });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, ...(response.status === 200 ? { bytes } : {}) };
  },
  // A proxy of a registry-core PyPI repository reads its simple index.
  upstreamUrl: (repositoryUrl) => `${repositoryUrl}simple/`,
  hostileRequests: ({ repository, group, token }) => {
    const basic = { authorization: `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}` };
    const upload = (filename: string, name = 'rc-hostile') => {
      const boundary = 'rc-conformance-boundary';
      const field = (key: string, value: string) => `--${boundary}\r\ncontent-disposition: form-data; name="${key}"\r\n\r\n${value}\r\n`;
      const body = Buffer.concat([
        Buffer.from(field(':action', 'file_upload') + field('name', name) + field('version', '1.0.0')),
        Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="content"; filename="${filename}"\r\ncontent-type: application/octet-stream\r\n\r\n`),
        wheel({ name: 'rc-hostile', version: '1.0.0', content: Buffer.from('hostile') }),
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      return { headers: { ...basic, 'content-type': `multipart/form-data; boundary=${boundary}` }, body };
    };
    return [repository, group].flatMap((repo) => [
      { label: `upload a file named with dot-dot segments to ${repo}`, method: 'POST', path: `/${repo}/`, ...upload('../../rc_hostile-1.0.0-py3-none-any.whl') },
      { label: `upload a file named with an absolute path to ${repo}`, method: 'POST', path: `/${repo}/`, ...upload('/etc/rc_hostile-1.0.0-py3-none-any.whl') },
      { label: `upload a file named with a backslash to ${repo}`, method: 'POST', path: `/${repo}/`, ...upload('..\\..\\rc_hostile-1.0.0-py3-none-any.whl') },
      { label: `upload with a project name with a slash to ${repo}`, method: 'POST', path: `/${repo}/`, ...upload('rc_hostile-1.0.0-py3-none-any.whl', 'rc/../hostile') },
      { label: `a file path with dot-dot segments in ${repo}`, method: 'GET', path: `/${repo}/packages/rc-hostile/..%2f..%2f..%2fetc%2fpasswd` },
      { label: `a project page with an encoded slash in ${repo}`, method: 'GET', path: `/${repo}/simple/rc-a%2f..%2frc-b/` },
      { label: `the JSON API with dot-dot segments in ${repo}`, method: 'GET', path: `/${repo}/pypi/..%2f..%2fetc/json` },
    ]);
  },
};

describeFormatConformance(pypi);
