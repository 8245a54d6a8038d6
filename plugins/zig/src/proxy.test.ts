import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestHost, storedZip, ustarArchive, type TestHost } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const files = (version: string): [string, string][] => [
  [`rc_dep-${version}/build.zig.zon`, `.{\n    .name = "rc_dep",\n    .version = "${version}",\n    .paths = .{ "build.zig.zon", "src" },\n}\n`],
  [`rc_dep-${version}/src/root.zig`, 'pub fn answer() u32 {\n    return 42;\n}\n'],
];

// zig picks its unpacker by the Content-Type: a proxy of a registry of this layout must serve
// each version's archive as what it is, not as gzip.
describe('zig proxy of a registry: archives keep their kind', () => {
  let upstream: TestHost;
  let host: TestHost;
  const archives = [
    { version: '1.1.0', type: 'application/zip', body: storedZip(files('1.1.0').map(([name, text]) => [name, Buffer.from(text)] as const)) },
    { version: '1.2.0', type: 'application/x-xz', body: execFileSync('xz', ['--compress', '--stdout'], { input: ustarArchive(files('1.2.0')) }) },
  ];

  beforeAll(async () => {
    upstream = await createTestHost({ plugins: [plugin], repositories: { 'zig-local': { format: 'zig', type: 'hosted' } } });
    const token = await upstream.userToken('zigdev');
    for (const { version, body } of archives) {
      const form = new FormData();
      form.set('tarball', new Blob([body]), `rc_dep-${version}`);
      const published = await upstream.fetch('/zig-local/publish', { method: 'POST', body: form, token });
      expect(published.status, await published.text()).toBe(201);
    }
    host = await createTestHost({ plugins: [plugin], repositories: { 'zig-up': { format: 'zig', type: 'proxy', upstream: upstream.repositoryUrl('zig-local'), packages: true } } });
  }, 60_000);

  afterAll(async () => {
    await host?.stop();
    await upstream?.stop();
  });

  it('serves a .zip and a .tar.xz version with their own content types, the bytes unchanged', async () => {
    for (const { version, type, body } of archives) {
      const local = await upstream.fetch(`/zig-local/packages/rc_dep/${version}/tarball`);
      expect(local.headers.get('content-type')).toBe(type);
      await local.arrayBuffer();
      const proxied = await host.fetch(`/zig-up/packages/rc_dep/${version}/tarball`);
      expect(proxied.status).toBe(200);
      expect(proxied.headers.get('content-type')).toBe(type);
      expect(Buffer.from(await proxied.arrayBuffer())).toEqual(body);
    }
  });
});
