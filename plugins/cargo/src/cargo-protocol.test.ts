import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestHost, type TestHost } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageTable } from './crate-archive.js';
import { parsePublishRequest } from './index-lines.js';
import { canonicalName, indexPath } from './names.js';
import { expandDownloadUrl } from './proxy.js';
import { cargoFormat } from './cargo-format.js';
import { localCargoMirror } from './local-cargo.js';
import { crateFile, publishBody, publishJson } from './testing/crate-files.js';

const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('cargo: names, index lines, manifests', () => {
  it('lays out index paths and compares names as crates.io does', () => {
    expect(['a', 'ab', 'abc', 'Serde', 'cargo'].map(indexPath)).toEqual(['1/a', '2/ab', '3/a/abc', 'se/rd/serde', 'ca/rg/cargo']);
    expect(canonicalName('Foo_Bar')).toBe(canonicalName('foo-bar'));
  });

  it('turns the publish JSON into an index line: renamed deps, version_req, features2', () => {
    const { line } = parsePublishRequest(
      publishJson('rc-app', '1.0.0', {
        deps: [{ name: 'real-dep', version_req: '^1', features: [], optional: true, default_features: true, target: null, kind: 'normal', registry: null, explicit_name_in_toml: 'alias' }],
        features: { default: ['std'], std: [], extra: ['dep:alias'] },
        rust_version: '1.70',
      }),
    );
    expect(line.deps[0]).toMatchObject({ name: 'alias', package: 'real-dep', req: '^1', optional: true });
    expect(line.features).toEqual({ default: ['std'], std: [] });
    expect(line.features2).toEqual({ extra: ['dep:alias'] });
    expect(line.v).toBe(2);
    expect(line.rust_version).toBe('1.70');
  });

  it('reads [package] of a Cargo.toml, never a key inside a multi-line string', () => {
    expect(packageTable('[package]\nname = "a"\nversion = \'1.0.0\'\n[dependencies]\nname = "x"\n')).toEqual({ name: 'a', version: '1.0.0' });
    expect(packageTable('[package]\nname = "a"\ndescription = """\nname = "evil"\n"""\nversion = "1.0.0"\n')).toEqual({ name: 'a', version: '1.0.0' });
    expect(packageTable('[workspace]\nname = "a"\n')).toEqual({});
    expect(packageTable('[package]\nname = "a"\nname = "b"\nversion = "1.0.0"\n')).toEqual({ version: '1.0.0' });
    expect(packageTable('[[bin]]\nname = "a"\n[package]\nname = "b"\n')).toEqual({ name: 'b' });
  });

  it('reads the local cargo\'s crates.io replacement as the default upstream', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'rc-cargo-home-'));
    expect(await localCargoMirror(home)).toBeUndefined();
    writeFileSync(path.join(home, 'config.toml'), '[source.crates-io]\nreplace-with = "mirror"\n\n[source.mirror]\nregistry = "sparse+http://mirror.example/index"\n');
    expect(await localCargoMirror(home)).toBe('http://mirror.example/index/');
    // A git index is no sparse registry: not an upstream.
    writeFileSync(path.join(home, 'config.toml'), '[source.crates-io]\nreplace-with = "git"\n[source.git]\nregistry = "https://git.example/index"\n');
    expect(await localCargoMirror(home)).toBeUndefined();
  });

  it('prints the registry, source replacement and login lines a repository needs', () => {
    const info = { name: 'cargo', format: 'cargo', type: 'group' as const, url: 'http://127.0.0.1:4000/cargo/', config: {}, takesWrites: true, reachesUpstream: true };
    expect(cargoFormat.clientConfig!(info)).toEqual([
      '.cargo/config.toml: [registries.cargo] index = "sparse+http://127.0.0.1:4000/cargo/"',
      '.cargo/config.toml (crates.io through it): [source.crates-io] replace-with = "cargo-mirror"  [source.cargo-mirror] registry = "sparse+http://127.0.0.1:4000/cargo/"',
      '.cargo/config.toml: [registry] global-credential-providers = ["cargo:token"]',
      'cargo login --registry cargo  (or CARGO_REGISTRIES_CARGO_TOKEN=<token>)',
      'cargo publish --registry cargo',
    ]);
    expect(cargoFormat.clientConfig!({ ...info, name: 'cargo-proxy', type: 'proxy', takesWrites: false })).toHaveLength(2);
    expect(cargoFormat.clientConfig!({ ...info, name: 'cargo.local', type: 'hosted', reachesUpstream: false })[2]).toBe('cargo login --registry cargo-local  (or CARGO_REGISTRIES_CARGO_LOCAL_TOKEN=<token>)');
  });

  it('expands dl templates with and without markers', () => {
    const line = { name: 'Serde', vers: '1.0.0', cksum: 'ab'.repeat(32) } as Parameters<typeof expandDownloadUrl>[1];
    expect(expandDownloadUrl('https://static.crates.io/crates', line)).toBe('https://static.crates.io/crates/Serde/1.0.0/download');
    expect(expandDownloadUrl('https://x/{prefix}/{lowerprefix}/{crate}/{crate}-{version}.crate?{sha256-checksum}', line)).toBe(`https://x/Se/rd/se/rd/Serde/Serde-1.0.0.crate?${'ab'.repeat(32)}`);
  });
});

describe('cargo: the sparse registry and web API on a hosted repository', () => {
  let host: TestHost;
  let token: string;
  let other: string;
  const put = (repo: string, body: Buffer, auth = token) => host.fetch(`/${repo}/api/v1/crates/new`, { method: 'PUT', headers: { authorization: auth }, body });
  const publish = async (repo: string, name: string, vers: string, extra: Record<string, unknown> = {}) => {
    const crate = await crateFile(name, vers, `${name} ${vers}`);
    return { crate, response: await put(repo, publishBody(publishJson(name, vers, extra), crate)) };
  };
  const detail = async (response: Response) => ((await response.json()) as { errors: { detail: string }[] }).errors[0]!.detail;

  beforeAll(async () => {
    host = await createTestHost({
      plugins: [plugin],
      repositories: {
        crates: { format: 'cargo', type: 'hosted' },
        private: { format: 'cargo', type: 'hosted', anonymousRead: false },
        tiny: { format: 'cargo', type: 'hosted', maxUploadSize: '1kb' },
      },
    });
    token = await host.userToken('carol');
    other = await host.userToken('dave');
  }, 60_000);
  afterAll(() => host?.stop());

  it('config.json points cargo at the repository; auth-required only once a token was needed', async () => {
    const open = await host.fetch('/crates/config.json');
    expect(await open.json()).toEqual({ dl: `${host.url}/crates/api/v1/crates`, api: `${host.url}/crates`, 'auth-required': false });
    const refused = await host.fetch('/private/config.json');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe(`Cargo login_url="${host.url}/private/me"`);
    expect(await detail(refused)).toMatch(/token/);
    // Cargo's raw token: no scheme.
    const withToken = await host.fetch('/private/config.json', { headers: { authorization: token } });
    expect(await withToken.json()).toMatchObject({ 'auth-required': true });
    expect((await host.fetch('/private/config.json', { headers: { authorization: 'rc_not-a-token' } })).status).toBe(401);
  });

  it('publishes, serves the index line with cksum, and revalidates with ETag and Last-Modified', async () => {
    const { crate, response } = await publish('crates', 'rc-Index', '0.1.0', { rust_version: '1.70', features: { default: [] } });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await response.json()).toEqual({ warnings: { invalid_categories: [], invalid_badges: [], other: [] } });
    const index = await host.fetch('/crates/rc/-i/rc-index');
    expect(index.status).toBe(200);
    const text = await index.text();
    const line = JSON.parse(text.trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ name: 'rc-Index', vers: '0.1.0', cksum: sha256(crate), yanked: false, features: { default: [] }, deps: [], rust_version: '1.70', links: null });
    const etag = index.headers.get('etag')!;
    const modified = index.headers.get('last-modified')!;
    expect(modified).toMatch(/GMT$/);
    expect((await host.fetch('/crates/rc/-i/rc-index', { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await host.fetch('/crates/rc/-i/rc-index', { headers: { 'if-modified-since': modified } })).status).toBe(304);
    const dl = await host.fetch('/crates/api/v1/crates/rc-Index/0.1.0/download');
    expect(Buffer.from(await dl.arrayBuffer()).equals(crate)).toBe(true);
    // The same version again, or with other build metadata, is refused.
    expect(await detail((await publish('crates', 'rc-Index', '0.1.0')).response)).toMatch(/already uploaded/);
    expect((await publish('crates', 'rc-Index', '0.1.0+build.2')).response.status).toBe(400);
  });

  it('refuses names that collide by case or - and _, bad input, and stores nothing for them', async () => {
    expect((await publish('crates', 'rc-collide', '1.0.0')).response.status).toBe(200);
    // The other spelling has no index file of its own (cargo asks for it when probing names).
    expect((await host.fetch('/crates/rc/_c/rc_collide')).status).toBe(404);
    expect((await host.fetch('/crates/rc/-c/RC-Collide')).status).toBe(200);
    const before = await host.stored();
    for (const name of ['RC-Collide', 'rc_collide']) {
      const { response } = await publish('crates', name, '2.0.0');
      expect(response.status, name).toBe(400);
      expect(await detail(response)).toMatch(/collides with the existing crate "rc-collide"/);
    }
    const bad = async (body: Buffer) => {
      const response = await put('crates', body);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      return detail(response);
    };
    const good = await crateFile('rc-bad', '1.0.0');
    expect(await bad(publishBody(publishJson('rc-bad', '1.0.0'), await crateFile('rc-bad', '1.0.0', '', { name: 'rc-other' })))).toMatch(/Cargo.toml names the crate "rc-other"/);
    expect(await bad(publishBody(publishJson('rc-bad', '1.0'), good))).toMatch(/SemVer/);
    expect(await bad(publishBody(publishJson('x'.repeat(65), '1.0.0'), good))).toMatch(/longer than 64/);
    expect(await bad(publishBody(publishJson('crâte', '1.0.0'), good))).toMatch(/ASCII/);
    expect(await bad(publishBody(publishJson('con', '1.0.0'), good))).toMatch(/reserved/);
    expect(await bad(publishBody(publishJson('rc-bad', '1.0.0'), good, { crateLength: good.length - 1 }))).toMatch(/lengths are wrong|invalid .crate/);
    expect(await bad(publishBody(publishJson('rc-bad', '1.0.0'), good, { crateLength: good.length + 5 }))).toMatch(/ended inside the .crate/);
    expect(await host.stored()).toEqual(before);
  });

  it('refuses a .crate over the repository\'s upload limit, storing nothing', async () => {
    const big = await crateFile('rc-big', '1.0.0', randomBytes(4096).toString('base64'));
    expect(big.length).toBeGreaterThan(1024);
    const before = await host.stored();
    const response = await put('tiny', publishBody(publishJson('rc-big', '1.0.0'), big));
    expect(response.status).toBe(413);
    expect(await detail(response)).toMatch(/over the limit of 1024 bytes/);
    expect(await host.stored()).toEqual(before);
  });

  it('yank and unyank flip the line; only owners may; owners are listed and changed', async () => {
    await publish('crates', 'rc-yanked', '1.0.0');
    const yank = await host.fetch('/crates/api/v1/crates/rc-yanked/1.0.0/yank', { method: 'DELETE', headers: { authorization: token } });
    expect(await yank.json()).toEqual({ ok: true });
    const yanked = async () => (JSON.parse((await (await host.fetch('/crates/rc/-y/rc-yanked')).text()).trim()) as { yanked: boolean }).yanked;
    expect(await yanked()).toBe(true);
    expect((await host.fetch('/crates/api/v1/crates/rc-yanked/1.0.0/unyank', { method: 'PUT', headers: { authorization: other } })).status).toBe(403);
    await host.fetch('/crates/api/v1/crates/rc-yanked/1.0.0/unyank', { method: 'PUT', headers: { authorization: token } });
    expect(await yanked()).toBe(false);
    expect((await host.fetch('/crates/api/v1/crates/rc-yanked/9.0.0/yank', { method: 'DELETE', headers: { authorization: token } })).status).toBe(404);

    const list = await host.fetch('/crates/api/v1/crates/rc-yanked/owners', { headers: { authorization: token } });
    expect(await list.json()).toEqual({ users: [{ id: 1, login: 'carol', name: null }] });
    const added = await host.fetch('/crates/api/v1/crates/rc-yanked/owners', { method: 'PUT', headers: { authorization: token, 'content-type': 'application/json' }, body: JSON.stringify({ users: ['dave'] }) });
    expect(added.status).toBe(200);
    expect((await added.json()) as { msg: string }).toMatchObject({ ok: true });
    expect((await host.fetch('/crates/api/v1/crates/rc-yanked/1.0.0/yank', { method: 'DELETE', headers: { authorization: other } })).status).toBe(200);
    const unknown = await host.fetch('/crates/api/v1/crates/rc-yanked/owners', { method: 'PUT', headers: { authorization: token, 'content-type': 'application/json' }, body: JSON.stringify({ users: ['nobody-here'] }) });
    expect(unknown.status).toBe(404);
  });

  it('renders a crate\'s index file once per revision (kept in the derived memory), and a publish changes it at once', async () => {
    const renders = async () => ((await (await host.fetch('/-/stats')).json()) as { derived: { renders: number } }).derived.renders;
    const versions = async () => (await (await host.fetch('/crates/rc/-c/rc-cached')).text()).trim().split('\n').map((l) => (JSON.parse(l) as { vers: string }).vers);
    await publish('crates', 'rc-cached', '1.0.0');
    const before = await renders();
    expect(await versions()).toEqual(['1.0.0']);
    expect(await versions()).toEqual(['1.0.0']);
    expect(await renders()).toBe(before + 1);
    await publish('crates', 'rc-cached', '1.1.0');
    expect(await versions()).toEqual(['1.0.0', '1.1.0']);
    expect(await renders()).toBe(before + 2);
  });

  it('search finds hosted crates by name and description', async () => {
    await publish('crates', 'rc-searchable', '1.0.0', { description: 'a crate about zebras' });
    await publish('crates', 'rc-searchable', '1.2.0', { description: 'a crate about zebras' });
    const found = (await (await host.fetch('/crates/api/v1/crates?q=zebras&per_page=5')).json()) as { crates: { name: string; max_version: string }[]; meta: { total: number } };
    expect(found.crates).toEqual([{ name: 'rc-searchable', max_version: '1.2.0', description: 'a crate about zebras' }]);
    expect(found.meta.total).toBe(1);
  });
});

describe('cargo: a proxy of a hostile sparse registry', () => {
  let upstream: Server;
  let host: TestHost;
  let good: Buffer;
  let liar: Buffer;

  beforeAll(async () => {
    good = await crateFile('rc-good', '1.0.0', 'good');
    liar = await crateFile('rc-liar', '1.0.0', 'liar');
    const line = (name: string, cksum: string) => JSON.stringify({ name, vers: '1.0.0', deps: [], cksum, features: {}, yanked: false, links: null });
    upstream = createServer((req, res) => {
      const url = req.url ?? '/';
      const port = (upstream.address() as AddressInfo).port;
      if (url === '/config.json') return res.end(JSON.stringify({ dl: `http://127.0.0.1:${port}/dl/{crate}-{version}.crate` }));
      if (url === '/rc/-g/rc-good') return res.end(`${line('rc-good', sha256(good))}\nnot json\n${line('rc-other', sha256(good))}\n{"name":"rc-good","vers":"1.0","cksum":"x","deps":[]}\n`);
      // The index announces the good crate's checksum; the download is another crate.
      if (url === '/rc/-l/rc-liar') return res.end(`${line('rc-liar', sha256(good))}\n`);
      if (url === '/dl/rc-good-1.0.0.crate') return res.end(good);
      if (url === '/dl/rc-liar-1.0.0.crate') return res.end(liar);
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    host = await createTestHost({
      plugins: [plugin],
      repositories: { mirror: { format: 'cargo', type: 'proxy', upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`, cache: { retries: 0 } } },
    });
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('keeps only the well-formed lines of the crate asked for, and serves their crates by the dl template', async () => {
    const index = await host.fetch('/mirror/rc/-g/rc-good');
    expect(index.status).toBe(200);
    expect((await index.text()).trim().split('\n').map((l) => (JSON.parse(l) as { name: string }).name)).toEqual(['rc-good']);
    const config = (await (await host.fetch('/mirror/config.json')).json()) as { dl: string };
    expect(config.dl).toBe(`${host.url}/mirror/api/v1/crates`);
    const crate = await host.fetch('/mirror/api/v1/crates/rc-good/1.0.0/download');
    expect(Buffer.from(await crate.arrayBuffer()).equals(good)).toBe(true);
  });

  it('refuses a .crate whose sha256 is not the index line\'s cksum, and caches nothing of it', async () => {
    const before = await host.stored();
    const response = await host.fetch('/mirror/api/v1/crates/rc-liar/1.0.0/download');
    expect(response.status).toBeGreaterThanOrEqual(400);
    await response.arrayBuffer().catch(() => undefined);
    const after = await host.stored();
    expect(after.assets.filter((a) => a.includes('.crate'))).toEqual(before.assets.filter((a) => a.includes('.crate')));
    expect(after.blobs.filter((b) => b.sha256 === sha256(liar))).toEqual([]);
  });
});

describe('cargo: a proxy of a private registry-core, with upstreamAuth', () => {
  let upstream: TestHost;
  let host: TestHost;
  let crate: Buffer;

  beforeAll(async () => {
    upstream = await createTestHost({ plugins: [plugin], repositories: { secret: { format: 'cargo', type: 'hosted', anonymousRead: false } } });
    const token = await upstream.userToken('owner');
    crate = await crateFile('rc-private', '1.0.0', 'private');
    const published = await upstream.fetch('/secret/api/v1/crates/new', { method: 'PUT', headers: { authorization: token }, body: publishBody(publishJson('rc-private', '1.0.0'), crate) });
    expect(published.status).toBe(200);
    const reader = await upstream.userToken('mirror');
    host = await createTestHost({
      plugins: [plugin],
      repositories: { mirror: { format: 'cargo', type: 'proxy', upstream: upstream.repositoryUrl('secret'), upstreamAuth: { token: reader }, cache: { retries: 0 } } },
    });
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
    await upstream?.stop();
  });

  it('reads the index and downloads with its token; the upstream refuses anyone else', async () => {
    expect((await upstream.fetch('/secret/rc/-p/rc-private')).status).toBe(401);
    const index = await host.fetch('/mirror/rc/-p/rc-private');
    expect(index.status).toBe(200);
    expect(JSON.parse((await index.text()).trim())).toMatchObject({ name: 'rc-private', cksum: sha256(crate) });
    const download = await host.fetch('/mirror/api/v1/crates/rc-private/1.0.0/download');
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(crate)).toBe(true);
  });
});
