import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isRegistryError } from '@registry-core/api';
import { MetadataStore } from '../metadata/metadata-store.js';
import { AuthService } from './auth-service.js';

const WINDOW_SECONDS = 3;

async function status(work: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await work;
    return 'ok';
  } catch (error) {
    return isRegistryError(error) ? error.status : -1;
  }
}

// Two AuthServices on one database stand for two nodes sharing one metadata store; the
// clock is faked (Date only), so the trust window is crossed without waiting.
describe('the token cache (auth.cacheSeconds)', () => {
  let stores: MetadataStore[];
  let nodeA: AuthService;
  let nodeB: AuthService;
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'rc-token-cache-')), 'db.sqlite');
    const config = { anonymousRead: true, allowRegistration: false, users: {}, providers: [], tokenTtlSeconds: 0, cacheSeconds: WINDOW_SECONDS, permissions: [] };
    stores = [await MetadataStore.open({ type: 'sqlite', path: file }), await MetadataStore.open({ type: 'sqlite', path: file })];
    nodeA = new AuthService(config, stores[0]!);
    nodeB = new AuthService(config, stores[1]!);
    await nodeA.addUser('ana', 'ana-password-1', { roles: ['dev'] });
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const store of stores) await store.close();
  });

  const bearer = (token: string) => `Bearer ${token}`;
  const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

  it('keeps a checked token by a hash of its secret, for the hot path, only once checked', async () => {
    const { token } = await nodeA.createToken('ana');
    expect(nodeA.authentication.cachedTokenPrincipal(bearer(token))).toBeUndefined();
    const principal = await nodeA.authenticate(bearer(token));
    const cached = nodeA.authentication.cachedTokenPrincipal(bearer(token))!;
    expect(cached.principal).toBe(principal);
    expect(cached.key).toMatch(/^[0-9a-f]{64}$/);
    expect(cached.key).not.toContain(token.slice(3));
    // Other credentials never come from this cache.
    expect(nodeA.authentication.cachedTokenPrincipal(`Basic ${Buffer.from(`ana:${token}`).toString('base64')}`)).toBeUndefined();
    expect(nodeA.authentication.cachedTokenPrincipal(bearer('rc_not-a-token'))).toBeUndefined();
    // The window ends: the metadata store is asked again.
    advance(WINDOW_SECONDS * 1000 + 1);
    expect(nodeA.authentication.cachedTokenPrincipal(bearer(token))).toBeUndefined();
    expect(await status(nodeA.authenticate(bearer(token)))).toBe('ok');
  });

  it('refuses an expired token at once, within the window too', async () => {
    const { token } = await nodeA.createToken('ana', { ttlSeconds: 60 });
    expect(await status(nodeA.authenticate(bearer(token)))).toBe('ok');
    advance(59_000);
    expect(await status(nodeA.authenticate(bearer(token)))).toBe('ok');
    expect(nodeA.authentication.cachedTokenPrincipal(bearer(token))).toBeDefined();
    // One second later it has expired: 2 s into a fresh window, the cache refuses it.
    advance(1_000);
    expect(nodeA.authentication.cachedTokenPrincipal(bearer(token))).toBeUndefined();
    expect(await status(nodeA.authenticate(bearer(token)))).toBe(401);
  });

  it('a revocation holds at once on the node that made it, within the window on another', async () => {
    const { token } = await nodeA.createToken('ana');
    expect(await status(nodeA.authenticate(bearer(token)))).toBe('ok');
    expect(await status(nodeB.authenticate(bearer(token)))).toBe('ok');
    expect(await nodeA.revokeToken(token)).toBe(true);
    expect(nodeA.authentication.cachedTokenPrincipal(bearer(token))).toBeUndefined();
    expect(await status(nodeA.authenticate(bearer(token)))).toBe(401);
    // Node B has not heard of it: it may still accept the token inside the window...
    advance(WINDOW_SECONDS * 1000 - 1);
    expect(await status(nodeB.authenticate(bearer(token)))).toBe('ok');
    // ...and never after it.
    advance(2);
    expect(nodeB.authentication.cachedTokenPrincipal(bearer(token))).toBeUndefined();
    expect(await status(nodeB.authenticate(bearer(token)))).toBe(401);
  });

  it('a role change made on another node shows within the window', async () => {
    const { token } = await nodeA.createToken('ana');
    expect((await nodeB.authenticate(bearer(token))).roles).toEqual(['dev']);
    await nodeA.users.setRoles('ana', ['readers']);
    advance(WINDOW_SECONDS * 1000 + 1);
    expect((await nodeB.authenticate(bearer(token))).roles).toEqual(['readers']);
  });

  it('a disabled user is refused at once on the node that disabled it, within the window on another; enabling gives everything back', async () => {
    const { token } = await nodeA.createToken('ana');
    const basic = `Basic ${Buffer.from('ana:ana-password-1').toString('base64')}`;
    // A signed access token bound to the password, and one bound to the stored token.
    const mint = async (header: string) => {
      const principal = await nodeA.authenticate(header);
      return (await nodeA.accessTokens.issue(principal, [], 3600, await nodeA.authentication.bindingFor(principal))).token;
    };
    const fromPassword = await mint(basic);
    const fromToken = await mint(bearer(token));
    for (const node of [nodeA, nodeB]) {
      for (const header of [bearer(token), basic, bearer(fromPassword), bearer(fromToken)]) expect(await status(node.authenticate(header))).toBe('ok');
    }
    await nodeA.setUserDisabled('ana', true, { principal: 'root' });
    expect(nodeA.authentication.cachedTokenPrincipal(bearer(token))).toBeUndefined();
    for (const header of [bearer(token), basic, bearer(fromPassword), bearer(fromToken)]) expect(await status(nodeA.authenticate(header))).toBe(401);
    expect(await nodeA.checkPassword('ana', 'ana-password-1')).toBeUndefined();
    expect((await nodeA.users.list()).find((u) => u.name === 'ana')).toMatchObject({ disabled: true });
    // Node B may go on trusting what it checked inside the window, and never after it.
    advance(WINDOW_SECONDS * 1000 - 1);
    expect(await status(nodeB.authenticate(bearer(token)))).toBe('ok');
    advance(2);
    expect(nodeB.authentication.cachedTokenPrincipal(bearer(token))).toBeUndefined();
    for (const header of [bearer(token), basic, bearer(fromPassword), bearer(fromToken)]) expect(await status(nodeB.authenticate(header))).toBe(401);
    // Enabled (on node B): the tokens were kept and hold again, on both nodes at once (nothing refused was cached).
    await nodeB.setUserDisabled('ana', false);
    expect((await nodeA.users.list()).find((u) => u.name === 'ana')!.disabled).toBeUndefined();
    for (const node of [nodeA, nodeB]) {
      for (const header of [bearer(token), basic, bearer(fromPassword), bearer(fromToken)]) expect(await status(node.authenticate(header))).toBe('ok');
    }
    const audit = await nodeA.audit.query({ action: 'user.disable' });
    expect(audit.map((e) => [e.principal, e.details])).toEqual([['root', { user: 'ana' }]]);
    expect((await nodeA.audit.query({ action: 'user.enable' })).map((e) => e.details)).toEqual([{ user: 'ana' }]);
    // A failed login of the disabled user was audited with its reason (told only after the right password).
    expect((await nodeA.audit.query({ action: 'login' })).some((e) => (e.details as { reason?: string }).reason === 'user disabled')).toBe(true);
  });

  it('refuses to disable a config user, an unknown user, or oneself', async () => {
    const withConfigUser = new AuthService({ anonymousRead: true, allowRegistration: false, users: { root: { passwordHash: 'x', roles: ['admin'] } }, providers: [], tokenTtlSeconds: 0, cacheSeconds: WINDOW_SECONDS, permissions: [] }, stores[0]!);
    expect(await status(withConfigUser.setUserDisabled('root', true))).toBe(409);
    expect(await status(nodeA.setUserDisabled('nobody', true))).toBe(404);
    await nodeA.addUser('boss', 'boss-password-1', { roles: ['admin'] });
    expect(await status(nodeA.setUserDisabled('boss', true, { principal: 'boss' }))).toBe(403);
  });

  it('answers concurrent requests of a token out of the cache with one look-up', async () => {
    const { token } = await nodeA.createToken('ana');
    const lookUp = vi.spyOn(nodeA.tokens, 'lookUp');
    const principals = await Promise.all(Array.from({ length: 16 }, () => nodeA.authenticate(bearer(token))));
    expect(lookUp).toHaveBeenCalledTimes(1);
    expect(new Set(principals).size).toBe(1);
    expect(nodeA.authentication.cachedTokenPrincipal(bearer(token))!.principal).toBe(principals[0]);
    // A bad token's refusal is shared the same way, and nothing is cached for it.
    const refused = await Promise.all(Array.from({ length: 4 }, () => status(nodeA.authenticate(bearer('rc_not-a-token')))));
    expect(refused).toEqual([401, 401, 401, 401]);
    expect(lookUp).toHaveBeenCalledTimes(2);
  });
});
