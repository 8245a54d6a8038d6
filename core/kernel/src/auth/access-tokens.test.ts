import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRegistryError, type Principal } from '@registry-core/api';
import { MetadataStore } from '../metadata/metadata-store.js';
import { AuthService } from './auth-service.js';

const alice: Principal = { name: 'alice', anonymous: false, roles: ['dev'], via: 'password', readOnly: false };

function status(fn: () => unknown): number | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return isRegistryError(error) ? error.status : -1;
  }
}

describe('signed access tokens', () => {
  let metadata: MetadataStore;
  let auth: AuthService;
  beforeEach(async () => {
    metadata = await MetadataStore.open({ type: 'sqlite', path: path.join(mkdtempSync(path.join(tmpdir(), 'rc-access-')), 'db.sqlite') });
    auth = new AuthService(
      { anonymousRead: true, allowRegistration: false, users: {}, providers: [], tokenTtlSeconds: 0, cacheSeconds: 5, permissions: [{ repositories: ['private'], read: ['$authenticated'] }] },
      metadata,
    );
    const repos: Record<string, { anonymousRead?: boolean; members?: string[] }> = { hosted: {}, proxy: {}, group: { members: ['hosted', 'proxy'] }, private: {} };
    auth.useRepositories((name) => repos[name]);
    // Access tokens are bound to a real credential: alice's password login.
    await auth.addUser('alice', 'alice-password-1', { roles: ['dev'] });
  });
  afterEach(async () => {
    await metadata.close();
  });

  it('grants only what the principal may do, and the token does nothing else, reads included', async () => {
    const service = auth.forRequest({ principal: alice, clientAddress: '127.0.0.1' });
    const issued = await service.issueAccessToken([{ repository: 'hosted', package: 'team/app', actions: ['read', 'write'] }, { repository: 'missing', package: 'x', actions: ['read'] }], 300);
    expect(issued.granted).toEqual([{ repository: 'hosted', package: 'team/app', actions: ['read', 'write'] }]);
    expect(issued.token.startsWith('rca.')).toBe(true);
    const principal = await auth.authenticate(`Bearer ${issued.token}`);
    expect(principal.name).toBe('alice');
    expect(status(() => auth.authorize(principal, 'write', { name: 'hosted' }, 'team/app'))).toBe('ok');
    expect(status(() => auth.authorize(principal, 'read', { name: 'hosted' }, 'team/other'))).toBe(401);
    expect(status(() => auth.authorize(principal, 'delete', { name: 'hosted' }, 'team/app'))).toBe(401);
    expect(status(() => auth.authorize(principal, 'read', { name: 'proxy' }, 'team/app'))).toBe(401);
  });

  it('extends a group grant to its members, refuses anonymous writes, and rejects forged or expired tokens', async () => {
    const anonymous = auth.forRequest({ principal: await auth.authenticate(undefined), clientAddress: '127.0.0.1' });
    const issued = await anonymous.issueAccessToken([{ repository: 'group', package: 'lib', actions: ['read', 'write'] }, { repository: 'private', package: 'p', actions: ['read'] }], 60);
    expect(issued.granted).toEqual([
      { repository: 'group', package: 'lib', actions: ['read'] },
      { repository: 'hosted', package: 'lib', actions: ['read'] },
      { repository: 'proxy', package: 'lib', actions: ['read'] },
    ]);
    const principal = await auth.authenticate(`Bearer ${issued.token}`);
    expect(principal.anonymous).toBe(true);
    expect(status(() => auth.authorize(principal, 'read', { name: 'hosted' }, 'lib'))).toBe('ok');
    const [head, body, signature] = issued.token.split('.');
    const payload = JSON.parse(Buffer.from(body!, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...payload, g: [{ repository: 'hosted', actions: ['write'] }] })).toString('base64url');
    await expect(auth.authenticate(`Bearer ${head}.${forged}.${signature}`)).rejects.toMatchObject({ status: 401 });
    const expired = await auth.forRequest({ principal: alice, clientAddress: 'x' }).issueAccessToken([], 1);
    await new Promise((r) => setTimeout(r, 1100));
    await expect(auth.authenticate(`Bearer ${expired.token}`)).rejects.toMatchObject({ status: 401 });
  });

  it('answers 403, not 401, for what the holder may not do at all: a new token would not help', async () => {
    const readers = new AuthService(
      { anonymousRead: true, allowRegistration: false, users: {}, providers: [], tokenTtlSeconds: 0, cacheSeconds: 5, permissions: [{ repositories: ['hosted'], write: ['admins'] }] },
      metadata,
    );
    readers.useRepositories((name) => ({ hosted: {}, proxy: {} })[name]);
    const issued = await readers.forRequest({ principal: alice, clientAddress: 'x' }).issueAccessToken([{ repository: 'hosted', package: 'a', actions: ['read', 'write'] }], 60);
    expect(issued.granted).toEqual([{ repository: 'hosted', package: 'a', actions: ['read'] }]);
    const bearer = await readers.authenticate(`Bearer ${issued.token}`);
    expect(status(() => readers.authorize(bearer, 'write', { name: 'hosted' }, 'a'))).toBe(403);
    // Something the holder may do but the token did not ask for: 401, ask for another token.
    expect(status(() => readers.authorize(bearer, 'read', { name: 'proxy' }, 'a'))).toBe(401);
  });

  it('never mints a wider token from an access token', async () => {
    const narrow = await auth.forRequest({ principal: alice, clientAddress: 'x' }).issueAccessToken([{ repository: 'hosted', package: 'a', actions: ['read'] }], 60);
    const bearer = await auth.authenticate(`Bearer ${narrow.token}`);
    const wider = await auth.forRequest({ principal: bearer, clientAddress: 'x' }).issueAccessToken([{ repository: 'hosted', package: 'a', actions: ['read', 'write'] }, { repository: 'hosted', package: 'b', actions: ['read'] }], 60);
    expect(wider.granted).toEqual([{ repository: 'hosted', package: 'a', actions: ['read'] }]);
  });

  it('binds an access token to its source token: revoked or expired source, dead token, and no renewal from it', async () => {
    await auth.addUser('bob', 'bob-password-1');
    const { token: apiToken, info } = await auth.createToken('bob', { ttlSeconds: 120 });
    const viaToken = await auth.authenticate(`Bearer ${apiToken}`);
    const first = await auth.forRequest({ principal: viaToken, clientAddress: 'x' }).issueAccessToken([{ repository: 'hosted', package: 'a', actions: ['read'] }], 3600);
    // Never longer than the API token it came from.
    expect(first.expiresIn).toBeLessThanOrEqual(120);
    const bearer = await auth.authenticate(`Bearer ${first.token}`);
    // Minted from an access token: never outlives it either.
    const child = await auth.forRequest({ principal: bearer, clientAddress: 'x' }).issueAccessToken([{ repository: 'hosted', package: 'a', actions: ['read'] }], 3600);
    const payload = (t: string) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { e: number };
    expect(payload(child.token).e).toBeLessThanOrEqual(payload(first.token).e);
    expect(await auth.revokeToken(info.id)).toBe(true);
    await expect(auth.authenticate(`Bearer ${first.token}`)).rejects.toMatchObject({ status: 401 });
    await expect(auth.authenticate(`Bearer ${child.token}`)).rejects.toMatchObject({ status: 401 });
  });

  it('binds an access token from a password login to the password: a change kills it', async () => {
    await auth.addUser('carol', 'carol-password-1');
    const login = await auth.authenticate(`Basic ${Buffer.from('carol:carol-password-1').toString('base64')}`);
    const issued = await auth.forRequest({ principal: login, clientAddress: 'x' }).issueAccessToken([{ repository: 'hosted', package: 'a', actions: ['read'] }], 300);
    expect((await auth.authenticate(`Bearer ${issued.token}`)).name).toBe('carol');
    await new Promise((r) => setTimeout(r, 5));
    await auth.setPassword('carol', 'carol-password-2');
    await expect(auth.authenticate(`Bearer ${issued.token}`)).rejects.toMatchObject({ status: 401 });
  });
});
