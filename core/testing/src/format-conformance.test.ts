import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFormatConformance, type ConformanceTarget, type FormatConformanceAdapter } from './format-conformance.js';

// The kit's own run: the example third-party format ("raw", plain files by path), written
// only against @registry-core/api. A raw package is the first path segment; this adapter
// stores version V of package P at `P/V/P-V.bin` and keeps P's version list in `P/index.json`
// (a file it rewrites, hence `allowRedeploy`; proxies revalidate it, hence `mutable`).
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/raw-format-plugin');

const filePath = (name: string, version: string) => `${encodeURIComponent(name)}/${encodeURIComponent(version)}/${encodeURIComponent(`${name}-${version}.bin`)}`;
const indexPath = (name: string) => `${encodeURIComponent(name)}/index.json`;
const auth = (target: ConformanceTarget): Record<string, string> => (target.token ? { authorization: `Bearer ${target.token}` } : {});

async function readIndex(target: ConformanceTarget, name: string): Promise<{ response: Response; versions?: string[] }> {
  const response = await fetch(`${target.repositoryUrl}${indexPath(name)}`, { headers: auth(target) });
  if (response.status !== 200) {
    await response.arrayBuffer();
    return { response };
  }
  const parsed = (await response.json()) as { versions?: unknown };
  return { response, versions: Array.isArray(parsed.versions) ? parsed.versions.map(String) : [] };
}

const raw: FormatConformanceAdapter = {
  name: 'raw (examples/raw-format-plugin)',
  plugin,
  format: 'raw',
  repositoryConfig: { hosted: { allowRedeploy: true }, proxy: { mutable: ['.json'] } },
  // Each file is a component: its version is the path after the package.
  componentVersion: (name, version) => `${version}/${name}-${version}.bin`,
  artifact: (pkg) => pkg.content,
  async publish(target, pkg) {
    const put = await fetch(`${target.repositoryUrl}${filePath(pkg.name, pkg.version)}`, { method: 'PUT', headers: auth(target), body: pkg.content });
    await put.arrayBuffer();
    if (put.status !== 201) return put;
    const index = await readIndex(target, pkg.name);
    const versions = [...new Set([...(index.versions ?? []), pkg.version])];
    const written = await fetch(`${target.repositoryUrl}${indexPath(pkg.name)}`, {
      method: 'PUT',
      headers: { ...auth(target), 'content-type': 'application/json' },
      body: JSON.stringify({ name: pkg.name, versions }),
    });
    await written.arrayBuffer();
    return written.status === 201 ? put : written;
  },
  async readVersions(target, name) {
    const { response, versions } = await readIndex(target, name);
    return { status: response.status, headers: response.headers, ...(versions ? { versions } : {}) };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}${filePath(name, version)}`, { headers: auth(target) });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, ...(response.status === 200 ? { bytes } : {}) };
  },
  hostileRequests: ({ repository, group, token }) =>
    [repository, group].flatMap((repo) =>
      [
        ['dot-dot segments', `/${repo}/../../rc-escape.bin`],
        ['encoded dot-dot segments', `/${repo}/%2e%2e/%2e%2e/rc-escape.bin`],
        ['encoded slashes', `/${repo}/rc-a/..%2f..%2f..%2frc-escape.bin`],
        ['an encoded backslash', `/${repo}/rc-a/..%5c..%5crc-escape.bin`],
        ['a NUL byte', `/${repo}/rc-nul%00/1.0.0/x.bin`],
        ['an overlong path', `/${repo}/rc-long/${'x'.repeat(2000)}.bin`],
      ].map(([label, p]) => ({ label: `PUT ${label} in ${repo}`, method: 'PUT', path: p!, headers: { authorization: `Bearer ${token}` }, body: 'hostile' })),
    ),
};

describeFormatConformance(raw);
