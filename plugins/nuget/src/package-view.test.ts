import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { PACKAGE_VIEW_LIMITS, type Asset } from '@registry-core/api';
import { readStoredMember } from './nupkg.js';
import { createTestHost, fetchPackageView, type TestHost } from '@registry-core/testing';
import { pushBody } from './testing/push-body.js';

const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A .nupkg as `dotnet pack` writes one: deflated members, made by Info-ZIP's zip. */
function nupkg(dir: string, id: string, version: string, metadata: string, files: Record<string, string | Buffer>): Buffer {
  const root = path.join(dir, `${id}-${version}`);
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, `${id}.nuspec`), `<?xml version="1.0" encoding="utf-8"?><package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata><id>${id}</id><version>${version}</version><authors>Ann, Bob</authors><description>A library.</description>${metadata}</metadata></package>`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content);
  }
  execFileSync('zip', ['-q', '-r', '-9', '../package.nupkg', '.'], { cwd: root });
  const bytes = readFileSync(path.join(dir, 'package.nupkg'));
  rmSync(path.join(dir, 'package.nupkg'));
  return bytes;
}

describe('readStoredMember', () => {
  it('reads the central directory and the one member, not the whole package', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-nuget-member-'));
    try {
      const filler = randomBytes(4 * 1024 * 1024);
      const bytes = nupkg(dir, 'Example.Large', '1.0.0', '<readme>README.md</readme>', { 'lib/a.bin': filler, 'README.md': '# Large\n', 'lib/b.bin': filler });
      let read = 0;
      const asset = {
        size: bytes.length,
        async open(range: { start: number; end?: number }) {
          const slice = bytes.subarray(range.start, range.end === undefined ? undefined : range.end + 1);
          read += slice.length;
          return Readable.from([slice]);
        },
      } as unknown as Asset;
      expect((await readStoredMember(asset, 'readme.md', 1024))?.toString()).toBe('# Large\n');
      expect(bytes.length).toBeGreaterThan(8 * 1024 * 1024);
      expect(read, `bytes read of a ${bytes.length}-byte package`).toBeLessThan(128 * 1024);
      expect(await readStoredMember(asset, 'lib/a.bin', 1024)).toBeUndefined();
      expect(await readStoredMember(asset, 'nothing.md', 1024)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('nuget package view', () => {
  let host: TestHost;
  let dir: string;
  let token: string;
  const push = async (bytes: Buffer) => {
    const { contentType, body } = pushBody(bytes);
    const response = await fetch(`${host.repositoryUrl('nuget')}api/v2/package`, { method: 'PUT', headers: { 'x-nuget-apikey': token, 'content-type': contentType }, body });
    await response.arrayBuffer();
    expect(response.status).toBe(201);
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rc-nuget-view-'));
    host = await createTestHost({ plugins: [plugin], repositories: { nuget: { format: 'nuget', type: 'hosted' } } });
    token = await host.userToken('alice');
  });
  afterAll(async () => {
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the nuspec: authors, license, project URL, dependency groups per framework; the README it names, read from the package', async () => {
    const readme = '# Lib\n\nUse it <script>alert(1)</script>.\n';
    const metadata =
      '<license type="expression">MIT</license><projectUrl>https://example.com/lib</projectUrl><repository type="git" url="https://example.com/lib.git" /><readme>docs\\README.md</readme>' +
      '<dependencies><group targetFramework="net8.0"><dependency id="Newtonsoft.Json" version="[13.0.1, )" /></group><group targetFramework="netstandard2.0"><dependency id="System.Memory" version="4.5.5" /><dependency id="Microsoft.Bcl.AsyncInterfaces" version="8.0.0" /></group></dependencies>';
    await push(nupkg(dir, 'Example.Lib', '1.2.0', metadata, { 'docs/README.md': readme, 'lib/net8.0/Example.Lib.dll': Buffer.alloc(512 * 1024, 7) }));
    const view = await fetchPackageView(host.url, 'nuget', 'example.lib');
    expect(view.version).toBe('1.2.0');
    expect(view.description).toBe('A library.');
    expect(view.readme).toBe(readme);
    expect(view.facts).toMatchObject({ authors: 'Ann, Bob', license: 'MIT', 'project URL': 'https://example.com/lib', repository: 'https://example.com/lib.git', 'target frameworks': 'net8.0, netstandard2.0' });
    expect(view.dependencies).toEqual([
      { name: 'Newtonsoft.Json', range: '[13.0.1, )', kind: 'net8.0' },
      { name: 'System.Memory', range: '4.5.5', kind: 'netstandard2.0' },
      { name: 'Microsoft.Bcl.AsyncInterfaces', range: '8.0.0', kind: 'netstandard2.0' },
    ]);
    expect(view.files.map((f) => f.name)).toEqual(['example.lib.1.2.0.nupkg']);
    // For the version the page shows.
    expect(view.install).toEqual([`dotnet add package example.lib --version 1.2.0 --source ${host.repositoryUrl('nuget')}v3/index.json`]);
  });

  it('a README over the limit, or one the package does not hold, is left out', async () => {
    await push(nupkg(dir, 'Example.Big', '1.0.0', '<readme>README.md</readme>', { 'README.md': 'r'.repeat(PACKAGE_VIEW_LIMITS.readme + 1) }));
    expect((await fetchPackageView(host.url, 'nuget', 'example.big')).readme).toBeUndefined();
    await push(nupkg(dir, 'Example.Missing', '1.0.0', '<readme>../../etc/passwd</readme>', { 'other.md': 'x' }));
    const missing = await fetchPackageView(host.url, 'nuget', 'example.missing');
    expect(missing.readme).toBeUndefined();
    expect(missing.description).toBe('A library.');
  });
});
