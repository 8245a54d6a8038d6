// NuGet with a real client where one installs here, and the documented v3 flow where none
// does. nuget.exe 2.8 (Debian's `nuget`, on mono) speaks only the v2 OData feed: it pushes,
// lists, installs (a dependency through the group's proxy, whose upstream is another
// registry-core hosting it) and deletes (unlists). The v3 resources dotnet restores from are
// walked by test/nuget/v3-walk.mjs, which follows NuGet's client flow exactly and checks the
// documented shapes: no dotnet SDK is available on these machines.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fetchPackageView, storedZip } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserAndToken, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';
// @ts-expect-error: a plain ES module, runnable by hand (see its header)
import { walk } from './v3-walk.mjs';

interface Run {
  readonly code: number | null;
  readonly out: string;
}

const home = tempDir('nuget-home');

/** nuget.exe with a fresh HOME (its config and machine cache), stdin closed (it would wait for input). */
function nuget(args: readonly string[], cwd = home): Promise<Run> {
  return exec('nuget', [...args, '-NonInteractive'], cwd);
}

/** `nuget push` (run beside the file: nuget 2.8 on mono misreads an absolute package path). */
function push(file: string, source: string, apiKey: string): Promise<Run> {
  return nuget(['push', path.basename(file), '-Source', source, '-ApiKey', apiKey], path.dirname(file));
}

/**
 * `nuget list` under a terminal with a width: mono's console reports width 0 without one, and
 * nuget 2.8 then prints every line empty.
 */
function nugetList(args: readonly string[]): Promise<Run> {
  const line = ['nuget', 'list', ...args, '-NonInteractive'].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return exec('script', ['-qec', `stty cols 200 rows 50; ${line}`, '/dev/null'], home);
}

function exec(command: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** A push as dotnet sends it (one multipart file part named `package`); resolves the status. */
async function pushOverHttp(repositoryUrl: string, apiKey: string, nupkg: Buffer): Promise<number> {
  const boundary = 'rc-nuget-test';
  const body = Buffer.concat([Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="package"; filename="package.nupkg"\r\n\r\n`), nupkg, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  const pushed = await fetch(`${repositoryUrl}api/v2/package`, { method: 'PUT', headers: { 'x-nuget-apikey': apiKey, 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
  await pushed.arrayBuffer();
  return pushed.status;
}

/** `nuget pack` of a package with one content file; resolves the .nupkg's path. */
async function pack(dir: string, id: string, version: string, dependencies = ''): Promise<string> {
  writeFileSync(path.join(dir, `${id}.txt`), `${id} ${version}\n`);
  const nuspec = path.join(dir, `${id}.nuspec`);
  writeFileSync(
    nuspec,
    `<?xml version="1.0"?><package><metadata><id>${id}</id><version>${version}</version><authors>registry-core</authors><description>${id} for the NuGet tests</description>${dependencies}</metadata><files><file src="${id}.txt" target="content/${id}.txt" /></files></package>`,
  );
  const packed = await nuget(['pack', path.basename(nuspec)], dir);
  expect(packed.code, packed.out).toBe(0);
  return path.join(dir, `${id}.${version}.nupkg`);
}

describe('NuGet with nuget.exe 2.8 (v2 feed) and the v3 resource walk', () => {
  let upstream: RunningRegistry;
  let node: RunningRegistry;
  let token: string;
  let app: string;
  let dep: string;
  const dir = tempDir('nuget-packages');

  beforeAll(async () => {
    upstream = await startRegistry('repositories:\n  nuget-up: { format: nuget, type: hosted }\n');
    const seed = await createUserAndToken(upstream.configFile, 'seed');
    app = await pack(dir, 'Rc.App', '1.0.0', '<dependencies><dependency id="Rc.Dep" version="1.0.0" /></dependencies>');
    // Packed by nuget.exe too: nuget 2.8 installs only packages with the OPC parts it writes
    // ("Package does not contain a manifest" otherwise); pushed over HTTP, one mono start less.
    dep = await pack(dir, 'Rc.Dep', '1.0.0');
    expect(await pushOverHttp(`${upstream.url}/nuget-up/`, seed, readFileSync(dep))).toBe(201);
    node = await startRegistry(`repositories:
  nuget-local: { format: nuget, type: hosted, maxUploadSize: 1mb }
  nuget-proxy: { format: nuget, type: proxy, upstream: "${upstream.url}/nuget-up/v3/index.json" }
  nuget: { format: nuget, type: group, members: [nuget-local, nuget-proxy] }
  nuget-strict: { format: nuget, type: hosted, deleteMode: delete }
`);
    token = await createUserAndToken(node.configFile, 'pat');
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
  });

  it('nuget push publishes; the same version again is a 409; a wrong API key and a proxy are refused', async () => {
    const source = `${node.url}/nuget-local/api/v2/package`;
    const pushed = await push(app, source, token);
    expect(pushed.out).toMatch(/Your package was pushed/);
    const again = await push(app, source, token);
    expect(again.out).toMatch(/409/);
    const wrong = await push(app, source, 'not-a-token');
    // A 401: nuget 2.8 then asks for source credentials, which it may not do non-interactively.
    expect(wrong.out).toMatch(/401|403|Please provide credentials/);
    expect(wrong.out).not.toMatch(/Your package was pushed/);
    const toProxy = await push(app, `${node.url}/nuget-proxy/api/v2/package`, token);
    expect(toProxy.out).toMatch(/405/);
    // Over the repository's upload limit: a 413, nothing stored.
    const big = storedZip([['Rc.Big.nuspec', Buffer.from('<package><metadata><id>Rc.Big</id><version>1.0.0</version></metadata></package>')], ['content/big.bin', Buffer.alloc(3 * 1024 * 1024, 7)]]);
    const tooBig = { status: await pushOverHttp(`${node.url}/nuget-local/`, token, big) };
    expect(tooBig.status).toBe(413);
    expect((await fetch(`${node.url}/nuget-local/v3-flatcontainer/rc.big/index.json`)).status).toBe(404);
    // The web interface's view of what nuget pushed (the browse API, through the group).
    const view = await fetchPackageView(node.url, 'nuget', 'rc.app');
    expect(view.heldBy).toBe('nuget-local');
    expect(view.version).toBe('1.0.0');
    expect(view.description).toBe('Rc.App for the NuGet tests');
    expect(view.facts['authors']).toBe('registry-core');
    expect(view.dependencies).toEqual([{ name: 'Rc.Dep', range: '1.0.0', kind: 'any framework' }]);
    expect(view.files.map((f) => [f.name, f.digests['sha256']])).toEqual([['rc.app.1.0.0.nupkg', createHash('sha256').update(readFileSync(app)).digest('hex')]]);
    // For the version the page shows.
    expect(view.install).toEqual([`dotnet add package rc.app --version 1.0.0 --source ${node.url}/nuget/v3/index.json`]);
  });

  it('nuget install takes a package from the group and its dependency through the proxy', async () => {
    const out = tempDir('nuget-install');
    const installed = await nuget(['install', 'Rc.App', '-Version', '1.0.0', '-Source', `${node.url}/nuget/api/v2/`, '-OutputDirectory', out]);
    expect(installed.out).toMatch(/Successfully installed 'Rc.App 1.0.0'/);
    expect(installed.out).toMatch(/Successfully installed 'Rc.Dep 1.0.0'/);
    expect(readFileSync(path.join(out, 'Rc.App.1.0.0', 'Rc.App.1.0.0.nupkg')).equals(readFileSync(app))).toBe(true);
    expect(readFileSync(path.join(out, 'Rc.Dep.1.0.0', 'Rc.Dep.1.0.0.nupkg')).equals(readFileSync(dep))).toBe(true);
    expect(existsSync(path.join(out, 'Rc.Dep.1.0.0', 'content', 'Rc.Dep.txt'))).toBe(true);
    // The proxy cached the dependency: a second fetch of it is a hit.
    const again = await fetch(`${node.url}/nuget-proxy/api/v2/package/Rc.Dep/1.0.0`);
    expect(again.headers.get('x-cache')).toBe('HIT');
    await again.arrayBuffer();
  });

  it('nuget list searches the group: hosted and upstream packages', async () => {
    const listed = await nugetList(['rc.', '-Source', `${node.url}/nuget/api/v2/`]);
    expect(listed.out).toMatch(/Rc\.App 1\.0\.0/);
    expect(listed.out).toMatch(/Rc\.Dep 1\.0\.0/);
  });

  it('the v3 walk: service index, flat container, registration, package, nuspec and search, on the group and the proxy', async () => {
    const hosted = await walk(`${node.url}/nuget/v3/index.json`, 'Rc.App');
    expect(hosted.nupkg.equals(readFileSync(app))).toBe(true);
    expect(hosted.leaf.catalogEntry.dependencyGroups[0].dependencies).toMatchObject([{ id: 'Rc.Dep', range: '1.0.0' }]);
    expect(hosted.leaf.catalogEntry.packageHash).toBe((await import('node:crypto')).createHash('sha512').update(readFileSync(app)).digest('base64'));
    expect(hosted.publish).toBe(`${node.url}/nuget/api/v2/package`);
    const proxied = await walk(`${node.url}/nuget-proxy/v3/index.json`, 'Rc.Dep', '1.0.0');
    expect(proxied.nupkg.equals(readFileSync(dep))).toBe(true);
    // Every URL in the proxy's documents is this registry's, none the upstream's.
    expect(JSON.stringify(proxied.registration)).not.toContain(upstream.url);
    expect(JSON.stringify(proxied.index)).not.toContain(upstream.url);
    expect(proxied.hit?.id).toBe('Rc.Dep');
  });

  it('nuget delete unlists (hidden from search, still restorable), a POST relists', async () => {
    const deleted = await nuget(['delete', 'Rc.App', '1.0.0', '-Source', `${node.url}/nuget-local/api/v2/package`, '-ApiKey', token]);
    expect(deleted.out).toMatch(/was deleted successfully/);
    const registration = (await (await fetch(`${node.url}/nuget/v3/registration/rc.app/index.json`)).json()) as { items: { items: { catalogEntry: { listed: boolean } }[] }[] };
    expect(registration.items[0]!.items[0]!.catalogEntry.listed).toBe(false);
    const search = (await (await fetch(`${node.url}/nuget/v3/query?q=rc.app`)).json()) as { data: unknown[] };
    expect(search.data).toEqual([]);
    expect((await fetch(`${node.url}/nuget/v3-flatcontainer/rc.app/1.0.0/rc.app.1.0.0.nupkg`)).status).toBe(200);
    const relisted = await fetch(`${node.url}/nuget-local/api/v2/package/Rc.App/1.0.0`, { method: 'POST', headers: { 'x-nuget-apikey': token } });
    expect(relisted.status).toBe(200);
    const back = (await (await fetch(`${node.url}/nuget/v3/query?q=rc.app`)).json()) as { data: { id: string }[] };
    expect(back.data.map((d) => d.id)).toEqual(['Rc.App']);
  });

  it('in a repository with deleteMode: delete, nuget delete removes the version and its files', async () => {
    expect(await pushOverHttp(`${node.url}/nuget-strict/`, token, readFileSync(dep))).toBe(201);
    const deleted = await nuget(['delete', 'Rc.Dep', '1.0.0', '-Source', `${node.url}/nuget-strict/api/v2/package`, '-ApiKey', token]);
    expect(deleted.out).toMatch(/was deleted successfully/);
    expect((await fetch(`${node.url}/nuget-strict/v3-flatcontainer/rc.dep/index.json`)).status).toBe(404);
    expect((await fetch(`${node.url}/nuget-strict/v3-flatcontainer/rc.dep/1.0.0/rc.dep.1.0.0.nupkg`)).status).toBe(404);
  });

  it('registrations of more than 128 versions link their pages, which the walk follows', async () => {
    const pushVersion = (minor: number) =>
      pushOverHttp(`${node.url}/nuget-local/`, token, storedZip([['Rc.Many.nuspec', Buffer.from(`<package><metadata><id>Rc.Many</id><version>1.${minor}.0</version><authors>a</authors><description>d</description></metadata></package>`)]]));
    // The first push makes the id this user's; the rest go eight at a time.
    expect(await pushVersion(0)).toBe(201);
    for (let from = 1; from < 130; from += 8) {
      const statuses = await Promise.all(Array.from({ length: Math.min(8, 130 - from) }, (_, i) => pushVersion(from + i)));
      expect(statuses.every((status) => status === 201), `${statuses}`).toBe(true);
    }
    const many = await walk(`${node.url}/nuget/v3/index.json`, 'Rc.Many', '1.7.0');
    expect(many.versions).toHaveLength(130);
    expect(many.versions.slice(0, 3)).toEqual(['1.0.0', '1.1.0', '1.2.0']);
    expect(many.registration.count).toBe(3);
    expect(many.pagesFetched).toBe(3);
    expect(many.leaf.catalogEntry.version).toBe('1.7.0');
  });
});
