// Packuments replayed by the host's hot path (hot-answers.ts), with the real npm client: a
// read answered once is replayed without the dispatcher or the derived memory (full and
// abbreviated apart, a 304 for its ETag), and a publish or a dist-tag change on this process
// is seen at once, through the hosted repository and through a group over it; a proxy's
// document is replayed no longer than its metadata TTL (0: never), through a group too.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makePackage } from '../helpers/npm-client.js';
import { createUserAndToken, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const ABBREVIATED = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

interface Stats {
  derived: { hits: number; misses: number };
  caches: { hotAnswers: number };
}

describe('npm packuments on the hot path', () => {
  let registry: RunningRegistry;
  let npm: NpmClient;
  let token: string;
  /** The proxy's upstream: a fixture serving one packument, with the versions listed here. */
  let upstream: Server;
  let upstreamVersions = ['1.0.0'];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      if (req.url !== '/up-pkg') return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
      const versions = Object.fromEntries(
        upstreamVersions.map((v) => [v, { name: 'up-pkg', version: v, dist: { tarball: `${base}/up-pkg/-/up-pkg-${v}.tgz`, shasum: '0'.repeat(40), integrity: `sha512-${Buffer.alloc(64).toString('base64')}` } }]),
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'up-pkg', 'dist-tags': { latest: upstreamVersions.at(-1) }, versions }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    registry = await startRegistry(`
auth: { anonymousRead: true }
repositories:
  npm-local: { format: npm, type: hosted }
  npm-other: { format: npm, type: hosted }
  npm-proxy: { format: npm, type: proxy, upstream: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}/", cache: { metadataTtl: 0 } }
  npm: { format: npm, type: group, members: [npm-local, npm-other] }
  npm-up: { format: npm, type: group, members: [npm-local, npm-proxy] }
`);
    token = await createUserAndToken(registry.configFile, 'hot-publisher');
    npm = new NpmClient(`${registry.url}/npm/`, token);
  });
  afterAll(async () => {
    await registry?.stop();
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
  });

  const stats = async () => (await (await fetch(`${registry.url}/-/stats`)).json()) as Stats;
  /** Derived-memory look-ups so far: a replayed answer makes none. */
  const lookups = async () => {
    const { derived } = await stats();
    return derived.hits + derived.misses;
  };
  const read = async (repository: string, accept: string, headers: Record<string, string> = {}, name = 'hot-pkg') => {
    const answer = await fetch(`${registry.url}/${repository}/${name}`, { headers: { accept, ...headers } });
    const text = await answer.text();
    return { status: answer.status, etag: answer.headers.get('etag'), type: answer.headers.get('content-type'), body: text ? (JSON.parse(text) as { 'dist-tags': Record<string, string>; versions: Record<string, unknown> }) : undefined };
  };
  const publish = async (version: string, ...args: string[]) => {
    const published = await npm.npm(['publish', makePackage({ name: 'hot-pkg', version }), ...args]);
    expect(published.code, published.stderr).toBe(0);
  };

  it('replays a packument read once, each form apart, and sees a publish at once (hosted and group)', async () => {
    await publish('1.0.0');
    const forms = [
      ['npm-local', 'application/json'],
      ['npm-local', ABBREVIATED],
      ['npm', 'application/json'],
      ['npm', ABBREVIATED],
    ] as const;
    for (const [repository, accept] of forms) expect((await read(repository, accept)).status).toBe(200);
    const before = await lookups();
    const replayed = await Promise.all(forms.map(([repository, accept]) => read(repository, accept)));
    // Replayed: no derived-memory look-up, each form its own answer.
    expect(await lookups()).toBe(before);
    expect((await stats()).caches.hotAnswers).toBeGreaterThanOrEqual(2);
    expect(replayed.map((r) => r.type)).toEqual(['application/json; charset=utf-8', 'application/vnd.npm.install-v1+json', 'application/json; charset=utf-8', 'application/vnd.npm.install-v1+json']);
    for (const r of replayed) expect(Object.keys(r.body!.versions)).toEqual(['1.0.0']);
    // A conditional read on the hot path: 304 for the ETag it has.
    expect((await read('npm', ABBREVIATED, { 'if-none-match': replayed[3]!.etag! })).status).toBe(304);
    expect(await lookups()).toBe(before);

    // Published through the group (to its hosted member): every form, both URLs, at once.
    await publish('1.1.0');
    const after = await Promise.all(forms.map(([repository, accept]) => read(repository, accept)));
    for (const r of after) {
      expect(Object.keys(r.body!.versions).sort()).toEqual(['1.0.0', '1.1.0']);
      expect(r.body!['dist-tags']['latest']).toBe('1.1.0');
    }
    // The old ETag no longer matches; the new one does.
    expect((await read('npm', ABBREVIATED, { 'if-none-match': replayed[3]!.etag! })).status).toBe(200);
    expect((await read('npm', ABBREVIATED, { 'if-none-match': after[3]!.etag! })).status).toBe(304);
    expect((await npm.npm(['view', 'hot-pkg', 'version'])).stdout.trim()).toBe('1.1.0');
  });

  it('sees a dist-tag change and an unpublish at once, anonymous and with a token', async () => {
    const withToken = { authorization: `Bearer ${token}` };
    // Answered and replayed, anonymous and to the token.
    for (let i = 0; i < 2; i++) {
      expect((await read('npm', ABBREVIATED)).body!['dist-tags']['latest']).toBe('1.1.0');
      expect((await read('npm', ABBREVIATED, withToken)).body!['dist-tags']['latest']).toBe('1.1.0');
    }
    const tagged = await npm.npm(['dist-tag', 'add', 'hot-pkg@1.0.0', 'stable']);
    expect(tagged.code, tagged.stderr).toBe(0);
    expect((await read('npm', ABBREVIATED)).body!['dist-tags']['stable']).toBe('1.0.0');
    expect((await read('npm', ABBREVIATED, withToken)).body!['dist-tags']['stable']).toBe('1.0.0');
    const removed = await npm.npm(['unpublish', 'hot-pkg@1.1.0', '--force']);
    expect(removed.code, removed.stderr).toBe(0);
    for (const headers of [{}, withToken]) {
      const { body } = await read('npm', 'application/json', headers);
      expect(Object.keys(body!.versions)).toEqual(['1.0.0']);
    }
  });

  it("asks the upstream again for a proxy's document on every read when its metadata TTL is 0, through a group too", async () => {
    const versions = async (repository: string) => Object.keys((await read(repository, ABBREVIATED, {}, 'up-pkg')).body!.versions);
    for (let i = 0; i < 2; i++) for (const repository of ['npm-proxy', 'npm-up']) expect(await versions(repository)).toEqual(['1.0.0']);
    upstreamVersions = ['1.0.0', '1.1.0'];
    for (const repository of ['npm-proxy', 'npm-up']) expect(await versions(repository)).toEqual(['1.0.0', '1.1.0']);
  });
});
