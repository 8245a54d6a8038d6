import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '@registry-core/api';
import { Authorization } from '../auth/authorization.js';
import { HotAnswers } from './hot-answers.js';

const reader = (name: string, roles: string[]): Principal => ({ name, anonymous: false, roles, via: 'token', readOnly: false, tokenId: `id-${name}` });

// A real HTTP server whose "full path" is a permission check on a private repository:
// replayed answers say so in a header of their own, so each answer tells which path it took.
describe('HotAnswers with tokens', () => {
  const authorization = new Authorization({ anonymousRead: true, permissions: [{ repositories: ['private'], read: ['readers'] }] });
  /** The authentication cache as the hot path sees it: header to principal. */
  const cache = new Map<string, { principal: Principal; key: string }>();
  const hot = new HotAnswers([], {
    principal: (header) => cache.get(header),
    decidesAlike: (principal, decisions) => authorization.decidesAlike(principal, decisions),
  });
  const bytes = Buffer.from('private bytes');
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (hot.serve(req, res)) return;
      const header = req.headers.authorization;
      const principal = header === undefined ? undefined : cache.get(header)?.principal;
      const asker = principal ?? { name: 'anonymous', anonymous: true, roles: [], via: 'anonymous' as const, readOnly: true };
      try {
        authorization.authorize(asker, 'read', { name: 'private' });
      } catch {
        res.writeHead(403).end();
        return;
      }
      hot.remember(req, { headers: { 'x-path': 'replayed' }, etag: '"e"', bytes: () => bytes, decisions: [{ permission: 'read', repository: { name: 'private' }, allowed: true }] }, principal);
      res.writeHead(200, { 'x-path': 'full' }).end(bytes);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/private/a.tgz`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = async (authorization?: string) => {
    const answer = await fetch(url, authorization ? { headers: { authorization } } : {});
    await answer.arrayBuffer();
    return answer.status === 200 ? answer.headers.get('x-path') : answer.status;
  };

  it('replays to the token it answered, while the token is cached and its decisions hold', async () => {
    cache.set('Bearer rc_ana', { principal: reader('ana', ['readers']), key: 'k-ana' });
    cache.set('Bearer rc_bob', { principal: reader('bob', []), key: 'k-bob' });
    expect([await get('Bearer rc_ana'), await get('Bearer rc_ana')]).toEqual(['full', 'replayed']);
    // Another token (cached, not a reader), anonymous, Basic and an unknown token: never the replay.
    expect([await get('Bearer rc_bob'), await get('Bearer rc_bob')]).toEqual([403, 403]);
    expect(await get()).toBe(403);
    expect(await get(`Basic ${Buffer.from('ana:rc_ana').toString('base64')}`)).toBe(403);
    expect(await get('Bearer rc_unknown')).toBe(403);
    // The reader lost the role (the cache was refreshed within the window): refused, not replayed.
    cache.set('Bearer rc_ana', { principal: reader('ana', []), key: 'k-ana' });
    expect(await get('Bearer rc_ana')).toBe(403);
    // The token left the cache (revoked, expired, window over): the full path decides.
    cache.set('Bearer rc_ana', { principal: reader('ana', ['readers']), key: 'k-ana' });
    expect(await get('Bearer rc_ana')).toBe('replayed');
    cache.delete('Bearer rc_ana');
    expect(await get('Bearer rc_ana')).toBe(403);
  });

  it('keeps no authenticated answer without read decisions, nor for a principal the cache does not name', async () => {
    hot.clear();
    cache.set('Bearer rc_cy', { principal: reader('cy', ['readers']), key: 'k-cy' });
    const req = { method: 'GET', url: '/private/a.tgz', headers: { authorization: 'Bearer rc_cy' } } as never;
    hot.remember(req, { headers: {}, etag: '"e"', bytes: () => bytes }, reader('cy', ['readers']));
    hot.remember(req, { headers: {}, etag: '"e"', bytes: () => bytes, decisions: [] }, cache.get('Bearer rc_cy')!.principal);
    hot.remember(req, { headers: {}, etag: '"e"', bytes: () => bytes, decisions: [{ permission: 'write', repository: { name: 'private' }, allowed: true }] }, cache.get('Bearer rc_cy')!.principal);
    expect(hot.size).toBe(0);
  });
});

// Metadata answers (a rendered document): kept per value of the headers they vary on, made
// from repositories whose changes drop them, and never kept when made across a change.
describe('HotAnswers for documents', () => {
  const hot = new HotAnswers();
  /** What the "full path" answers now, per Accept: a document in two chunks. */
  let revision = 1;
  const chunksOf = (accept: string) => [Buffer.from(`{"accept":"${accept}",`), Buffer.from(`"revision":${revision}}`)];
  /** Set by a test: the mark taken before the answer is made, and a change that happens while it is made. */
  let during: (() => void) | undefined;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (hot.serve(req, res)) return;
      const since = hot.mark();
      const accept = String(req.headers.accept ?? '');
      const chunks = chunksOf(accept);
      during?.();
      const etag = `"${accept}-${revision}"`;
      const ttlMs = req.url === '/short' ? 0 : undefined;
      hot.remember(req, { headers: { 'x-path': 'replayed', etag, vary: 'Accept' }, etag, bytes: () => chunks, vary: ['accept', 'host'], repositories: ['group', 'member'], ...(ttlMs !== undefined ? { ttlMs } : {}) }, undefined, since);
      res.writeHead(200, { 'x-path': 'full', etag }).end(Buffer.concat(chunks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const answer = await fetch(`${base}${path}`, { headers });
    const body = await answer.text();
    return { status: answer.status, path: answer.headers.get('x-path'), body };
  };

  it('replays each variant to the headers that chose it, the chunks in order, and 304 for its ETag', async () => {
    hot.clear();
    revision = 1;
    expect((await get('/doc', { accept: 'a' })).path).toBe('full');
    expect(await get('/doc', { accept: 'a' })).toEqual({ status: 200, path: 'replayed', body: '{"accept":"a","revision":1}' });
    // Another Accept is another answer: made on the full path, then replayed apart.
    expect(await get('/doc', { accept: 'b' })).toEqual({ status: 200, path: 'full', body: '{"accept":"b","revision":1}' });
    expect(await get('/doc', { accept: 'b' })).toEqual({ status: 200, path: 'replayed', body: '{"accept":"b","revision":1}' });
    expect(await get('/doc', { accept: 'a' })).toEqual({ status: 200, path: 'replayed', body: '{"accept":"a","revision":1}' });
    expect((await get('/doc', { accept: 'a', 'if-none-match': '"a-1"' })).status).toBe(304);
    // Too long a combination of varying values is not kept at all.
    const long = 'x'.repeat(2000);
    expect((await get('/doc', { accept: long })).path).toBe('full');
    expect((await get('/doc', { accept: long })).path).toBe('full');
  });

  it('drops what a changed repository made (a group\'s answer with its member), keeps the rest', async () => {
    hot.clear();
    revision = 1;
    await get('/doc', { accept: 'a' });
    hot.invalidate('elsewhere');
    expect((await get('/doc', { accept: 'a' })).path).toBe('replayed');
    // A publish in the member: the group's answer is made again, with the new revision.
    revision = 2;
    hot.invalidate('member');
    expect(await get('/doc', { accept: 'a' })).toEqual({ status: 200, path: 'full', body: '{"accept":"a","revision":2}' });
    expect(await get('/doc', { accept: 'a' })).toEqual({ status: 200, path: 'replayed', body: '{"accept":"a","revision":2}' });
  });

  it('keeps no answer made while one of its repositories changed, nor one with no time to live', async () => {
    hot.clear();
    revision = 1;
    // The document was read (revision 1), then the member changed before the answer was kept.
    during = () => hot.invalidate('member');
    expect((await get('/doc', { accept: 'a' })).path).toBe('full');
    during = undefined;
    revision = 2;
    expect(await get('/doc', { accept: 'a' })).toEqual({ status: 200, path: 'full', body: '{"accept":"a","revision":2}' });
    // A change elsewhere while it is made does not matter.
    hot.clear();
    during = () => hot.invalidate('elsewhere');
    await get('/doc', { accept: 'a' });
    during = undefined;
    expect((await get('/doc', { accept: 'a' })).path).toBe('replayed');
    // A proxy's metadata TTL of 0: every request asks again.
    await get('/short', { accept: 'a' });
    expect((await get('/short', { accept: 'a' })).path).toBe('full');
    expect(hot.size).toBe(1);
  });
});

// Another process's change (a worker, a node, the CLI on the same database): the probe says
// so and every answer is dropped.
describe('HotAnswers with a change probe', () => {
  let elsewhere = false;
  const hot = new HotAnswers([], undefined, { changedElsewhere: () => elsewhere, everyMs: 0 });
  let served = 0;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (hot.serve(req, res)) return;
      const since = hot.mark();
      const body = Buffer.from(`answer ${++served}`);
      hot.remember(req, { headers: {}, etag: `"${served}"`, bytes: () => body, repositories: ['r'] }, undefined, since);
      res.writeHead(200).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/doc`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = async () => (await fetch(url)).text();

  it('replays while the probe sees no other change, and makes the answer again once it does', async () => {
    expect(await get()).toBe('answer 1');
    expect(await get()).toBe('answer 1');
    elsewhere = true;
    expect(await get()).toBe('answer 2');
    elsewhere = false;
    expect(await get()).toBe('answer 2');
  });
});

