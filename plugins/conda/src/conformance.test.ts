import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFormatConformance, type ConformancePackage, type ConformanceTarget, type FormatConformanceAdapter } from '@registry-core/testing';
import { condaPackageBytes } from './testing/package-builder.js';

// The kernel's group contract on conda, through the upload API (`registry-core conda upload`
// and curl) and noarch/repodata.json, what conda, mamba and rattler read. Each version is a
// tiny noarch .conda built here.
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const spec = (pkg: ConformancePackage) => ({ name: pkg.name, version: pkg.version, build: 'pyh_0', files: [{ name: 'share/content', data: pkg.content }] });
const auth = (target: ConformanceTarget): Record<string, string> => (target.token ? { authorization: `Bearer ${target.token}` } : {});

const conda: FormatConformanceAdapter = {
  name: 'conda',
  plugin,
  format: 'conda',
  artifact: async (pkg) => (await condaPackageBytes(spec(pkg))).bytes,
  async publish(target, pkg) {
    const built = await condaPackageBytes(spec(pkg));
    const form = new FormData();
    form.set('file', new Blob([built.bytes]), built.filename);
    const response = await fetch(`${target.repositoryUrl}-/upload`, { method: 'POST', headers: auth(target), body: form });
    await response.arrayBuffer();
    return response;
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}noarch/repodata.json`, { headers: auth(target) });
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status, headers: response.headers };
    }
    const repodata = (await response.json()) as { packages: Record<string, { name: string; version: string }>; 'packages.conda': Record<string, { name: string; version: string }> };
    const versions = [...Object.values(repodata.packages), ...Object.values(repodata['packages.conda'])].filter((r) => r.name === name).map((r) => r.version);
    // A channel answers for every name at once: a name it does not list is this format's 404.
    return { status: versions.length > 0 ? 200 : 404, headers: response.headers, ...(versions.length > 0 ? { versions } : {}) };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}noarch/${encodeURIComponent(`${name}-${version}-pyh_0.conda`)}`, { headers: auth(target) });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, ...(response.status === 200 ? { bytes } : {}) };
  },
  namePath: (name) => `noarch/${encodeURIComponent(name)}`,
  sharedIndex: true,
  hostileRequests: ({ repository, group, token }) => {
    const upload = (filename: string) => {
      const boundary = 'rc-conformance-boundary';
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${filename}"\r\ncontent-type: application/octet-stream\r\n\r\n`),
        Buffer.from('not really a package'),
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      return { headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, body };
    };
    return [repository, group].flatMap((repo) => [
      { label: `upload a file named with dot-dot segments to ${repo}`, method: 'POST', path: `/${repo}/-/upload`, ...upload('../../rc-hostile-1.0-0.conda') },
      { label: `upload a file named with an absolute path to ${repo}`, method: 'POST', path: `/${repo}/-/upload`, ...upload('/etc/rc-hostile-1.0-0.conda') },
      { label: `upload a package whose name conda refuses to ${repo}`, method: 'POST', path: `/${repo}/-/upload`, ...upload('RC-Hostile-1.0-0.conda') },
      { label: `a package path with dot-dot segments in ${repo}`, method: 'GET', path: `/${repo}/noarch/..%2f..%2fetc%2fpasswd` },
      { label: `a subdir with dot-dot segments in ${repo}`, method: 'GET', path: `/${repo}/..%2f..%2fetc/repodata.json` },
    ]);
  },
};

describeFormatConformance(conda);
