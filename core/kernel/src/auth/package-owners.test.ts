import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRegistryError, type Principal } from '@registry-core/api';
import { MetadataStore } from '../metadata/metadata-store.js';
import { AuthService } from './auth-service.js';
import type { PackageOwnership } from './package-owners.js';

const user = (name: string, roles: string[] = []): Principal => ({ name, anonymous: false, roles, via: 'token', readOnly: false });
const alice = user('alice');
const bob = user('bob');
const root = user('root', ['admin']);
const anonymous: Principal = { name: 'anonymous', anonymous: true, roles: [], via: 'anonymous', readOnly: false };

async function failure(work: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await work;
  } catch (error) {
    if (isRegistryError(error)) return { status: error.status, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('package ownership', () => {
  let metadata: MetadataStore;
  let auth: AuthService;
  let owners: PackageOwnership;
  const isNew = async () => true;
  const write = (p: Principal, name = 'left-pad', options: { claim?: boolean; isNew?: () => Promise<boolean> } = {}) =>
    owners.beforeWrite(p, 'npm-local', name, { claim: options.claim ?? true, isNew: options.isNew ?? isNew });

  beforeEach(async () => {
    metadata = await MetadataStore.open({ type: 'sqlite', path: path.join(mkdtempSync(path.join(tmpdir(), 'rc-owners-')), 'db.sqlite') });
    auth = new AuthService({ anonymousRead: true, allowRegistration: false, users: {}, providers: [], tokenTtlSeconds: 0, cacheSeconds: 5, permissions: [] }, metadata);
    owners = auth.owners;
    await auth.addUser('alice', 'alice-password-1', { email: 'alice@example.test' });
    await auth.addUser('bob', 'bob-password-1');
  });
  afterEach(async () => {
    await metadata.close();
  });

  it('gives a name to its first writer and refuses everyone else, naming the owners', async () => {
    expect(await write(alice)).toEqual({ claimed: true });
    expect(await owners.list('npm-local', 'left-pad')).toEqual([{ name: 'alice', email: 'alice@example.test' }]);
    expect(await write(alice)).toEqual({ claimed: false });
    const refused = await failure(write(bob));
    expect(refused.status).toBe(403);
    expect(refused.message).toContain('owned by alice');
    // Deletes are checked the same way; anonymous writers never pass an owned name.
    expect((await failure(write(bob, 'left-pad', { claim: false }))).status).toBe(403);
    expect((await failure(write(anonymous))).status).toBe(403);
    // Ownership is per repository and name.
    expect(await owners.beforeWrite(bob, 'npm-other', 'left-pad', { claim: true, isNew })).toEqual({ claimed: true });
    expect(await write(bob, 'right-pad')).toEqual({ claimed: true });
  });

  it('lets administrators write anything; they claim only names with no content yet', async () => {
    await write(alice);
    expect(await write(root)).toEqual({ claimed: false });
    // A name published before owners existed (content, no owners row): an administrator's write leaves it unclaimed...
    expect(await write(root, 'legacy', { isNew: async () => false })).toEqual({ claimed: false });
    expect(await owners.list('npm-local', 'legacy')).toEqual([]);
    // ...its next writer claims it; a brand-new name is the administrator's.
    expect(await write(bob, 'legacy', { isNew: async () => false })).toEqual({ claimed: true });
    expect(await write(root, 'fresh')).toEqual({ claimed: true });
    expect((await owners.list('npm-local', 'fresh')).map((o) => o.name)).toEqual(['root']);
  });

  it('never claims on deletes or for anonymous writers', async () => {
    expect(await write(bob, 'x', { claim: false })).toEqual({ claimed: false });
    expect(await write(anonymous, 'x')).toEqual({ claimed: false });
    expect(await owners.list('npm-local', 'x')).toEqual([]);
  });

  it('gives a name claimed by concurrent writers to exactly one of them', async () => {
    const results = await Promise.allSettled([write(alice, 'race'), write(bob, 'race')]);
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.claimed)).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
  });

  it('releases a claim whose write failed, and only while its claimer is the sole owner', async () => {
    await write(alice);
    await owners.releaseClaim('npm-local', 'left-pad', 'alice');
    expect(await owners.list('npm-local', 'left-pad')).toEqual([]);
    await write(alice);
    await owners.add(alice, 'npm-local', 'left-pad', 'bob');
    await owners.releaseClaim('npm-local', 'left-pad', 'alice');
    expect((await owners.list('npm-local', 'left-pad')).map((o) => o.name)).toEqual(['alice', 'bob']);
  });

  it('lets owners and administrators add and remove owners, never the last one, never unknown users', async () => {
    await write(alice);
    expect((await failure(owners.add(bob, 'npm-local', 'left-pad', 'bob'))).status).toBe(403);
    expect((await failure(owners.add(alice, 'npm-local', 'left-pad', 'nobody'))).status).toBe(404);
    expect(await owners.add(alice, 'npm-local', 'left-pad', 'bob')).toEqual([{ name: 'alice', email: 'alice@example.test' }, { name: 'bob' }]);
    expect(await write(bob)).toEqual({ claimed: false });
    expect(await owners.remove(bob, 'npm-local', 'left-pad', 'alice')).toEqual([{ name: 'bob' }]);
    expect((await failure(write(alice))).status).toBe(403);
    const last = await failure(owners.remove(bob, 'npm-local', 'left-pad', 'bob'));
    expect(last.status).toBe(400);
    expect(last.message).toContain('last owner');
    expect((await owners.add(root, 'npm-local', 'left-pad', 'alice')).map((o) => o.name)).toEqual(['bob', 'alice']);
    const audit = await auth.audit.query({ action: 'owner.add', limit: 10 });
    expect(audit.map((e) => [e.principal, e.package, e.details?.['user']])).toEqual([
      ['root', 'left-pad', 'alice'],
      ['alice', 'left-pad', 'bob'],
    ]);
  });

  it("lets an operator release a name by removing its last owner; the next writer claims it", async () => {
    await write(alice);
    expect(await owners.operatorRemove('npm-local', 'left-pad', 'alice')).toEqual([]);
    expect(await write(bob)).toEqual({ claimed: true });
    expect((await owners.operatorAdd('npm-local', 'left-pad', 'alice')).map((o) => o.name)).toEqual(['bob', 'alice']);
  });

  it('tells a signed-in request who a user is; anonymous requests learn nothing', async () => {
    expect(await owners.forRequest(bob, 'npm-local').user('alice')).toEqual({ name: 'alice', email: 'alice@example.test' });
    expect(await owners.forRequest(bob, 'npm-local').user('nobody')).toBeUndefined();
    expect(await owners.forRequest(anonymous, 'npm-local').user('alice')).toBeUndefined();
  });
});
