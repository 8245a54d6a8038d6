import { NotFoundError, RegistryError, RepositoryPolicyError, UpstreamError, UpstreamTimeoutError, ForbiddenError, type FormatRequestContext, type FormatResponse, type MergeableDocument, type MergeSources, type RouteDefinition } from '@registry-core/api';
import { describe, expect, it } from 'vitest';
import type { RepositoryRuntime } from './dispatcher.js';
import { GroupRouter, type MemberRunner } from './group-router.js';

type Spec = { type: 'hosted' | 'proxy' | 'group'; members?: string[]; routing?: Record<string, string[]>; holds?: string[]; policy?: string };

/** Runtimes with just what the router reads: type, members, routing, the component index, the version space. */
function repositories(specs: Record<string, Spec>): Map<string, RepositoryRuntime> {
  const format = { id: 'x', routes: [], versionSpace: (r: { config: Record<string, unknown> }) => String(r.config['policy'] ?? '') };
  return new Map(
    Object.entries(specs).map(([name, spec]) => [
      name,
      {
        name,
        format,
        config: { format: 'x', type: spec.type, members: spec.members, routing: spec.routing, policy: spec.policy },
        handle: { components: { versions: async (pkg: string) => ((spec.holds ?? []).includes(pkg) ? [{ name: pkg, version: '1' }] : []) } },
      } as unknown as RepositoryRuntime,
    ]),
  );
}

/** Members answer by a table: a response body naming them, or an error. */
function runner(answers: Record<string, Error | 'ok'>, loads: Record<string, string[] | Error | undefined> = {}): MemberRunner & { asked: string[]; refusals: unknown[] } {
  const asked: string[] = [];
  const refusals: unknown[] = [];
  return {
    asked,
    refusals,
    async handle(member) {
      asked.push(member.name);
      const answer = answers[member.name] ?? new NotFoundError(`nothing in ${member.name}`);
      if (answer instanceof Error) throw answer;
      return { body: { kind: 'text', value: member.name, contentType: 'text/plain' } };
    },
    async load<T>(member: RepositoryRuntime) {
      asked.push(member.name);
      const loaded = loads[member.name];
      if (loaded instanceof Error) throw loaded;
      return loaded === undefined ? undefined : ({ value: loaded as T, revision: member.name } as const);
    },
    async refused(fields) {
      refusals.push(fields);
    },
  };
}

const authorized: [string, string | undefined][] = [];
const ctx = {
  repository: { name: 'g' },
  logger: { warn() {} },
  authorize(permission: string, packageName?: string) {
    authorized.push([permission, packageName]);
    if (packageName === 'forbidden-here') throw new ForbiddenError('the group refuses it');
  },
} as unknown as FormatRequestContext;
const route = (permission: RouteDefinition['permission'], plan: RouteDefinition['group']): RouteDefinition => ({ method: 'GET', path: '/', permission, handler: async () => ({}), group: plan });
const text = (r: FormatResponse) => (r.body as { value: string }).value;
const union: MergeableDocument<string[]> = {
  merge: (lists) => [...new Set(lists.flat())],
  render: (_c, d) => ({ body: { kind: 'json', value: { d: d.value, revision: d.revision } } }),
};

describe('GroupRouter', () => {
  const repos = repositories({
    hostedA: { type: 'hosted', holds: ['owned'] },
    hostedB: { type: 'hosted', holds: ['owned', 'b-only'] },
    proxy1: { type: 'proxy' },
    proxy2: { type: 'proxy' },
    inner: { type: 'group', members: ['hostedB', 'proxy2'] },
    g: { type: 'group', members: ['hostedA', 'inner', 'proxy1'], routing: { '@acme/*': ['hostedA'], 'com.acme.*': ['inner'] } },
  });
  const router = new GroupRouter(repos);

  it('flattens nested groups in member order and applies claims at each level', () => {
    expect(router.leaves('g').map((l) => l.name)).toEqual(['hostedA', 'hostedB', 'proxy2', 'proxy1']);
    expect(router.leaves('g', '@acme/x').map((l) => l.name)).toEqual(['hostedA']);
    expect(router.leaves('g', 'com.acme.lib:core').map((l) => l.name)).toEqual(['hostedB', 'proxy2']);
    // `*` is any run of characters; other characters are literal.
    expect(router.leaves('g', 'comXacmeYlib').map((l) => l.name)).toEqual(['hostedA', 'hostedB', 'proxy2', 'proxy1']);
  });

  it('answers an owned name from the first hosted holder only, never a proxy', async () => {
    const run = runner({ hostedA: 'ok', hostedB: 'ok', proxy1: 'ok' });
    const answer = await router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'owned' })), ctx, run);
    expect(text(answer)).toBe('hostedA');
    expect(answer.headers?.['X-Registry-Member']).toBe('hostedA');
    expect(run.asked).toEqual(['hostedA']);
  });

  it('fails closed when the owner fails or refuses', async () => {
    const run = runner({ hostedA: new ForbiddenError('private'), proxy1: 'ok' });
    await expect(router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'owned' })), ctx, run)).rejects.toMatchObject({ status: 403 });
    expect(run.asked).toEqual(['hostedA']);
  });

  it('asks proxies in order for names no hosted member holds; the first answer wins', async () => {
    const run = runner({ proxy2: new NotFoundError('no'), proxy1: 'ok' });
    const answer = await router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'free' })), ctx, run);
    expect(text(answer)).toBe('proxy1');
    expect(run.asked).toEqual(['proxy2', 'proxy1']);
  });

  it('says why nobody had it: a failure beats a 404, a 404 keeps the member\'s own words', async () => {
    const failing = runner({ proxy2: new UpstreamError('down'), proxy1: new NotFoundError('MANIFEST_UNKNOWN', 'MANIFEST_UNKNOWN') });
    await expect(router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'free' })), ctx, failing)).rejects.toMatchObject({ status: 502 });
    const missing = runner({ proxy2: new NotFoundError('gone', 'MANIFEST_UNKNOWN') });
    await expect(router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'free' })), ctx, missing)).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
  });

  it('names every member asked and how it failed, with the first failure\'s status, code and headers', async () => {
    const blocked = new RegistryError('UPSTREAM_BLOCKED', 'upstream http://127.0.0.1:9 is not asked for 30 s after repeated failures', 502, { headers: { 'Retry-After': '30' } });
    const failing = runner({ proxy2: new NotFoundError('nothing here'), proxy1: blocked });
    const error = await router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'free' })), ctx, failing).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: 'UPSTREAM_BLOCKED', headers: { 'Retry-After': '30' } });
    expect((error as Error).message).toBe('no member of g could answer for free: proxy2: not found; proxy1: upstream http://127.0.0.1:9 is not asked for 30 s after repeated failures');
    // Merged documents and upstream-only requests alike.
    const merged = await router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'free', merge: union })), ctx, runner({}, { proxy2: new UpstreamError('upstream http://a failed: ECONNREFUSED'), proxy1: new UpstreamTimeoutError('upstream http://b did not answer') })).catch((e: unknown) => e);
    expect(merged).toMatchObject({ status: 502, message: 'no member of g could answer for free: proxy2: upstream http://a failed: ECONNREFUSED; proxy1: upstream http://b did not answer' });
    const upstream = await router.serve(repos.get('g')!, route('read', () => ({ serve: 'upstream' })), ctx, runner({ proxy2: new UpstreamTimeoutError('slow'), proxy1: new UpstreamError('down') })).catch((e: unknown) => e);
    expect(upstream).toMatchObject({ status: 504, message: 'no member of g could answer: proxy2: slow; proxy1: down' });
  });

  it('never puts a URL\'s user information or a broken member\'s own words in its answer', async () => {
    const run = runner({ proxy2: new UpstreamError('upstream https://bob:s3cret@up.example/x failed'), proxy1: new Error('EACCES: /var/lib/secret-path') });
    const error = (await router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'free' })), ctx, run).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe('no member of g could answer for free: proxy2: upstream https://up.example/x failed; proxy1: proxy1 failed: internal error');
  });

  it('never consults a proxy for a claimed name', async () => {
    const run = runner({ proxy1: 'ok', proxy2: 'ok' });
    await expect(router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: '@acme/x' })), ctx, run)).rejects.toMatchObject({ status: 404 });
    expect(run.asked).toEqual([]);
  });

  it('merges the proxies\' documents for a name no hosted member holds, and only the owner\'s otherwise', async () => {
    const run = runner({}, { hostedA: ['a'], hostedB: ['b'], proxy1: ['p1'], proxy2: ['p2'] });
    const merged = await router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'free', merge: union })), ctx, run);
    expect((merged.body as { value: { d: string[] } }).value.d).toEqual(['p2', 'p1']);
    expect(merged.headers?.['X-Registry-Member']).toBe('proxy2, proxy1');
    const owned = await router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'owned', merge: union })), ctx, runner({}, { hostedA: ['a'], hostedB: ['b'], proxy1: ['p1'] }));
    expect((owned.body as { value: { d: string[] } }).value.d).toEqual(['a']);
  });

  it('merges every member for a listing, leaving out a failed proxy', async () => {
    const run = runner({}, { hostedA: ['a'], hostedB: ['b'], proxy1: new UpstreamError('down'), proxy2: undefined });
    const listed = await router.serve(repos.get('g')!, route('read', () => ({ serve: 'members', merge: union })), ctx, run);
    expect((listed.body as { value: { d: string[] } }).value.d).toEqual(['a', 'b']);
  });

  it('tells a members merge, per name, which documents the group serves it from (owners, proxies, routing claims)', async () => {
    let sources: MergeSources | undefined;
    const spy: MergeableDocument<string[]> = { ...union, merge: (lists, _ctx, given) => ((sources = given), union.merge(lists, _ctx)) };
    const loads = runner({}, { hostedA: ['a'], hostedB: ['b'], proxy2: ['p2'], proxy1: ['p1'] });
    await router.serve(repos.get('g')!, route('read', () => ({ serve: 'members', merge: spy })), ctx, loads);
    expect(sources!.members.map((m) => `${m.name}:${m.type}`)).toEqual(['hostedA:hosted', 'hostedB:hosted', 'proxy2:proxy', 'proxy1:proxy']);
    // Held by both hosted members and a proxy: the first hosted holder alone.
    expect(sources!.servedFrom('plain', [3, 1, 0])).toEqual([0]);
    // Held by proxies only: every proxy holding it.
    expect(sources!.servedFrom('plain', [2, 3])).toEqual([2, 3]);
    // Claimed for hostedA: never a proxy's, nor another hosted member's.
    expect(sources!.servedFrom('@acme/x', [1, 2, 3])).toEqual([]);
    expect(sources!.servedFrom('@acme/x', [0, 3])).toEqual([0]);
    // Claimed for the inner group: its hosted member first, else its proxy, never proxy1.
    expect(sources!.servedFrom('com.acme.lib:core', [2, 3])).toEqual([2]);
  });

  it('sends a write to the owner, a new name to the first hosted member, and audits a refusal', async () => {
    const toOwner = runner({ hostedA: 'ok', hostedB: 'ok' });
    expect(text(await router.serve(repos.get('g')!, route('write', () => ({ serve: 'package', package: 'b-only' })), ctx, toOwner))).toBe('hostedB');
    const fresh = runner({ hostedA: 'ok', hostedB: 'ok' });
    expect(text(await router.serve(repos.get('g')!, route('write', () => ({ serve: 'package', package: 'new' })), ctx, fresh))).toBe('hostedA');
    const refused = runner({ hostedA: new ForbiddenError('not yours'), hostedB: 'ok' });
    await expect(router.serve(repos.get('g')!, route('write', () => ({ serve: 'package', package: 'owned' })), ctx, refused)).rejects.toMatchObject({ status: 403 });
    expect(refused.asked).toEqual(['hostedA']);
    expect(refused.refusals).toEqual([expect.objectContaining({ package: 'owned', member: 'hostedA', status: 403 })]);
  });

  it('asks the next owner (another version space) when one has not got the file, never a proxy', async () => {
    const spaced = repositories({
      releases: { type: 'hosted', policy: 'release', holds: ['g:a'] },
      snapshots: { type: 'hosted', policy: 'snapshot', holds: ['g:a'] },
      proxy: { type: 'proxy' },
      mg: { type: 'group', members: ['releases', 'snapshots', 'proxy'] },
    });
    const run = runner({ releases: new NotFoundError('no such file'), snapshots: 'ok', proxy: 'ok' });
    const answer = await new GroupRouter(spaced).serve(spaced.get('mg')!, route('read', () => ({ serve: 'package', package: 'g:a' })), ctx, run);
    expect(text(answer)).toBe('snapshots');
    const none = runner({ releases: new NotFoundError('no'), snapshots: new NotFoundError('no either'), proxy: 'ok' });
    await expect(new GroupRouter(spaced).serve(spaced.get('mg')!, route('read', () => ({ serve: 'package', package: 'g:a' })), ctx, none)).rejects.toMatchObject({ status: 404 });
    expect(none.asked).toEqual(['releases', 'snapshots']);
  });

  it('passes a write its owner\'s policy refuses to a hosted member of another version space only', async () => {
    const spaced = repositories({
      releases: { type: 'hosted', policy: 'release', holds: ['g:a'] },
      releases2: { type: 'hosted', policy: 'release' },
      snapshots: { type: 'hosted', policy: 'snapshot' },
      mg: { type: 'group', members: ['releases', 'releases2', 'snapshots'] },
    });
    const spacedRouter = new GroupRouter(spaced);
    const run = runner({ releases: new RepositoryPolicyError('a SNAPSHOT'), releases2: 'ok', snapshots: 'ok' });
    expect(text(await spacedRouter.serve(spaced.get('mg')!, route('write', () => ({ serve: 'package', package: 'g:a' })), ctx, run))).toBe('snapshots');
    expect(run.asked).toEqual(['releases', 'snapshots']);
    // Both spaces' owners answer a merged read.
    const both = repositories({
      releases: { type: 'hosted', policy: 'release', holds: ['g:a'] },
      snapshots: { type: 'hosted', policy: 'snapshot', holds: ['g:a'] },
      other: { type: 'hosted', policy: 'release', holds: ['g:a'] },
      mg: { type: 'group', members: ['releases', 'snapshots', 'other'] },
    });
    const merged = await new GroupRouter(both).serve(both.get('mg')!, route('read', () => ({ serve: 'package', package: 'g:a', merge: union })), ctx, runner({}, { releases: ['1.0'], snapshots: ['1.1-SNAPSHOT'], other: ['6.6.6'] }));
    expect((merged.body as { value: { d: string[] } }).value.d).toEqual(['1.0', '1.1-SNAPSHOT']);
  });

  it('checks the group\'s own name-level rules before any member is asked', async () => {
    authorized.length = 0;
    const run = runner({ proxy1: 'ok' });
    await expect(router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'forbidden-here' })), ctx, run)).rejects.toMatchObject({ status: 403 });
    expect(run.asked).toEqual([]);
    await router.serve(repos.get('g')!, route('write', () => ({ serve: 'package', package: 'new' })), ctx, runner({ hostedA: 'ok' }));
    expect(authorized).toEqual([
      ['read', 'forbidden-here'],
      ['write', 'new'],
    ]);
  });

  it('asks the proxies in order for an upstream-only request, and fails without one', async () => {
    const run = runner({ proxy2: new UpstreamError('down'), proxy1: 'ok' });
    expect(text(await router.serve(repos.get('g')!, route('read', () => ({ serve: 'upstream' })), ctx, run))).toBe('proxy1');
    const hostedOnly = repositories({ h: { type: 'hosted' }, hg: { type: 'group', members: ['h'] } });
    await expect(new GroupRouter(hostedOnly).serve(hostedOnly.get('hg')!, route('read', () => ({ serve: 'upstream' })), ctx, runner({}))).rejects.toMatchObject({ status: 502 });
  });

  it('answers a name nobody has with the document\'s empty value when it has one', async () => {
    const withEmpty: MergeableDocument<string[]> = { ...union, empty: () => [] };
    const answer = await router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'free', merge: withEmpty })), ctx, runner({}, {}));
    expect((answer.body as { value: { d: string[] } }).value.d).toEqual([]);
    // A failure is still a failure, not an empty list.
    await expect(router.serve(repos.get('g')!, route('read', () => ({ serve: 'package', package: 'free', merge: withEmpty })), ctx, runner({}, { proxy1: new UpstreamError('down') }))).rejects.toMatchObject({ status: 502 });
  });

  it('refuses a write no hosted member can take', async () => {
    const proxiesOnly = repositories({ p: { type: 'proxy' }, pg: { type: 'group', members: ['p'] } });
    const none = runner({});
    await expect(new GroupRouter(proxiesOnly).serve(proxiesOnly.get('pg')!, route('write', () => ({ serve: 'package', package: 'x' })), ctx, none)).rejects.toMatchObject({ status: 405 });
    expect(none.refusals).toHaveLength(1);
  });
});
