import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, fetchPackageView, type TestHost } from '@registry-core/testing';
import { condaPackageBytes, type CondaPackageSpec } from './testing/package-builder.js';

const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('conda package view', () => {
  let host: TestHost;
  let token: string;
  const upload = async (spec: CondaPackageSpec) => {
    const built = await condaPackageBytes(spec);
    const form = new FormData();
    form.set('file', new Blob([built.bytes]), built.filename);
    const response = await fetch(`${host.repositoryUrl('channel')}-/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
    await response.arrayBuffer();
    expect(response.status).toBe(201);
    return built;
  };

  beforeAll(async () => {
    host = await createTestHost({ plugins: [plugin], repositories: { channel: { format: 'conda', type: 'hosted' } } });
    token = await host.userToken('alice');
  });
  afterAll(async () => host?.stop());

  it('every build of a version, per subdir, with its depends and constrains and the license', async () => {
    await upload({ name: 'tool', version: '1.9', subdir: 'linux-64', build: 'h0_0', depends: ['libc'] });
    const linux = await upload({ name: 'tool', version: '2.0', subdir: 'linux-64', build: 'h1_0', depends: ['libzlib >=1.3,<2.0a0', 'python_abi 3.12.* *_cp312'], index: { constrains: ['openssl >=3'], license: 'BSD-3-Clause', license_family: 'BSD' } });
    const mac = await upload({ name: 'tool', version: '2.0', subdir: 'osx-arm64', build: 'h2_0', depends: ['libcxx >=17'], index: { license: 'BSD-3-Clause' } });
    const view = await fetchPackageView(host.url, 'channel', 'tool');
    expect(view.version).toBe('2.0');
    expect(view.facts).toEqual({ license: 'BSD-3-Clause', 'license family': 'BSD', builds: 'linux-64: h1_0; osx-arm64: h2_0' });
    expect(view.dependencies).toEqual([
      { name: 'libzlib', range: '>=1.3,<2.0a0', kind: 'run (linux-64 h1_0)' },
      { name: 'python_abi', range: '3.12.* *_cp312', kind: 'run (linux-64 h1_0)' },
      { name: 'openssl', range: '>=3', kind: 'constrains (linux-64 h1_0)' },
      { name: 'libcxx', range: '>=17', kind: 'run (osx-arm64 h2_0)' },
    ]);
    expect(view.files.map((f) => [f.name, f.size])).toEqual([
      [`linux-64/${linux.filename}`, linux.bytes.length],
      [`osx-arm64/${mac.filename}`, mac.bytes.length],
    ]);
    // For the version the page shows.
    expect(view.install[0]).toBe(`conda install --override-channels -c ${host.repositoryUrl('channel').replace(/\/$/, '')} "tool=2.0"`);
    const old = await fetchPackageView(host.url, 'channel', 'tool', '1.9');
    expect(old.dependencies).toEqual([{ name: 'libc', range: '', kind: 'run' }]);
    expect(old.facts['builds']).toBe('linux-64: h0_0');
  });
});
