// The npm format end to end with the real npm and pnpm clients: publish (scoped and
// unscoped, with a token), install through the group together with "public" packages
// from a proxy whose upstream is a second registry-core instance, dist-tags, deprecate,
// unpublish, login, the environment header, the dependency-confusion guard, and the proxy
// serving from its cache once the upstream is gone.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makePackage, makeProject } from '../helpers/npm-client.js';
import { createUserAndToken, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

interface Packument {
  name: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, { version: string; deprecated?: string; dist: { tarball: string; integrity: string; shasum: string } }>;
  time?: Record<string, string>;
}

describe('npm clients against hosted, proxy and group', () => {
  let upstream: RunningRegistry;
  let registry: RunningRegistry;
  let token: string;
  let upstreamClient: NpmClient;
  let readOnlyToken: string;
  let group: string;
  let local: string;
  let publisher: NpmClient;

  beforeAll(async () => {
    // The "public registry": a second registry-core instance with packages published by npm.
    upstream = await startRegistry(`
auth: { anonymousRead: true }
repositories:
  public: { format: npm, type: hosted }
`);
    const upstreamToken = await createUserAndToken(upstream.configFile, 'public-publisher');
    upstreamClient = new NpmClient(`${upstream.url}/public/`, upstreamToken);
    for (const pkg of [
      { name: 'pub-dep-b', version: '1.0.0' },
      { name: 'pub-dep-b', version: '1.1.0' },
      { name: 'pub-dep-a', version: '1.0.0', dependencies: { 'pub-dep-b': '^1.0.0' } },
    ]) {
      const published = await upstreamClient.npm(['publish', makePackage(pkg)]);
      expect(published.code, published.stderr).toBe(0);
    }

    registry = await startRegistry(`
auth: { anonymousRead: true, allowRegistration: true }
repositories:
  npm-local: { format: npm, type: hosted }
  # negativeTtl 0: publishing acme-internal asked the proxy first; its 404 is not kept.
  npmjs: { format: npm, type: proxy, upstream: "${upstream.url}/public/", cache: { metadataTtl: 1, negativeTtl: 0 } }
  npm: { format: npm, type: group, members: [npm-local, npmjs] }
`);
    token = await createUserAndToken(registry.configFile, 'alice');
    readOnlyToken = await createUserAndToken(registry.configFile, 'alice', { readOnly: true });
    group = `${registry.url}/npm/`;
    local = `${registry.url}/npm-local/`;
    publisher = new NpmClient(local, token);
  }, 300_000);

  afterAll(async () => {
    await registry?.stop();
    await upstream?.stop();
  });

  const packument = async (base: string, name: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${name.replace('/', '%2f')}`, { headers: { accept: 'application/json', ...headers } });
    return { status: res.status, headers: res.headers, body: res.status === 200 ? ((await res.json()) as Packument) : undefined };
  };

  it('publishes a scoped and an unscoped package with a token', async () => {
    const scoped = await publisher.npm(['publish', makePackage({ name: '@acme/util', version: '1.0.0', description: 'acme utilities', dependencies: { 'pub-dep-a': '^1.0.0' } })]);
    expect(scoped.code, scoped.stderr).toBe(0);
    const unscoped = await publisher.npm(['publish', makePackage({ name: 'acme-internal', version: '1.0.0', description: 'internal' })]);
    expect(unscoped.code, unscoped.stderr).toBe(0);
    // Then the attacker's public package squats the private name (dependency confusion). (Had
    // it been there first, the publish above would have been refused: it would shadow it.)
    const squat = await upstreamClient.npm(['publish', makePackage({ name: 'acme-internal', version: '99.0.0', scripts: { postinstall: 'echo pwned' } })]);
    expect(squat.code, squat.stderr).toBe(0);
    const doc = await packument(local, '@acme/util');
    expect(doc.body?.['dist-tags'].latest).toBe('1.0.0');
    expect(doc.body?.versions['1.0.0']?.dist.tarball).toBe(`${local}@acme/util/-/util-1.0.0.tgz`);
    const view = await publisher.npm(['view', '@acme/util', 'description', `--registry=${group}`]);
    expect(view.stdout.trim()).toBe('acme utilities');
  });

  it('refuses a republish of an existing version with 403', async () => {
    const again = await publisher.npm(['publish', makePackage({ name: 'acme-internal', version: '1.0.0' })]);
    expect(again.code, again.stderr).not.toBe(0);
    // npm checks the packument first and refuses client-side; the server-side 403 is in npm-bad-input.test.ts.
    expect(again.stderr).toMatch(/403|cannot modify pre-existing version|cannot publish over the previously published versions/);
  });

  it('installs private and public packages together from the group (npm)', async () => {
    const project = makeProject({ '@acme/util': '^1.0.0', 'acme-internal': '*' });
    const client = new NpmClient(group);
    const installed = await client.npm(['install', '--no-audit'], project);
    expect(installed.code, installed.stderr).toBe(0);
    expect(existsSync(path.join(project, 'node_modules/@acme/util/package.json'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(project, 'node_modules/pub-dep-b/package.json'), 'utf8')).version).toBe('1.1.0');
    // The dependency-confusion guard: the public 99.0.0 never shadows the private name.
    expect(JSON.parse(readFileSync(path.join(project, 'node_modules/acme-internal/package.json'), 'utf8')).version).toBe('1.0.0');
    const lock = JSON.parse(readFileSync(path.join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
    for (const [key, entry] of Object.entries(lock.packages)) if (key) expect(entry.resolved?.startsWith(group), `${key} ${entry.resolved}`).toBe(true);
  });

  it('serves only hosted versions for a name that exists in a hosted member', async () => {
    const doc = await packument(group, 'acme-internal');
    expect(Object.keys(doc.body!.versions)).toEqual(['1.0.0']);
    const fromProxy = await packument(`${registry.url}/npmjs/`, 'acme-internal');
    expect(Object.keys(fromProxy.body!.versions)).toEqual(['99.0.0']);
  });

  it('installs the same project with pnpm', async () => {
    const project = makeProject({ '@acme/util': '^1.0.0', 'pub-dep-a': '1.0.0' });
    const client = new NpmClient(group);
    const installed = await client.pnpm(['install', `--registry=${group}`], project);
    expect(installed.code, `${installed.stdout}\n${installed.stderr}`).toBe(0);
    expect(existsSync(path.join(project, 'node_modules/@acme/util/index.js'))).toBe(true);
    expect(existsSync(path.join(project, 'node_modules/pub-dep-a/index.js'))).toBe(true);
  });

  it('accepts a scoped name with the slash encoded or not', async () => {
    for (const path of ['@acme%2futil', '@acme/util', '%40acme%2Futil']) {
      const res = await fetch(`${group}${path}`);
      expect(res.status, path).toBe(200);
      expect(((await res.json()) as Packument).name).toBe('@acme/util');
    }
    expect((await fetch(`${group}@acme/util/-/util-1.0.0.tgz`)).status).toBe(200);
  });

  it('passes search through a proxy to an upstream that has it', async () => {
    const found = (await (await fetch(`${registry.url}/npmjs/-/v1/search?text=pub-dep`)).json()) as { objects: { package: { name: string } }[] };
    expect(found.objects.map((o) => o.package.name).sort()).toEqual(['pub-dep-a', 'pub-dep-b']);
    const merged = (await (await fetch(`${group}-/v1/search?text=a`)).json()) as { objects: { package: { name: string } }[] };
    expect(merged.objects.map((o) => o.package.name)).toEqual(expect.arrayContaining(['@acme/util', 'pub-dep-a']));
  });

  it('installs the same project with yarn v1', async () => {
    const project = makeProject({ '@acme/util': '^1.0.0', 'pub-dep-a': '1.0.0' });
    const installed = await new NpmClient(group).yarn(['install'], project);
    expect(installed.code, `${installed.stdout}\n${installed.stderr}`).toBe(0);
    expect(existsSync(path.join(project, 'node_modules/@acme/util/index.js'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(project, 'node_modules/pub-dep-b/package.json'), 'utf8')).version).toBe('1.1.0');
    const lock = readFileSync(path.join(project, 'yarn.lock'), 'utf8');
    expect(lock).toContain(`resolved "${group}pub-dep-a/-/pub-dep-a-1.0.0.tgz`);
  });

  it('answers the abbreviated document to installers', async () => {
    const res = await fetch(`${group}pub-dep-a`, { headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/vnd.npm.install-v1+json');
    const body = (await res.json()) as Packument & { modified?: string; readme?: string };
    expect(body.versions['1.0.0']?.dist.tarball).toBe(`${group}pub-dep-a/-/pub-dep-a-1.0.0.tgz`);
    expect(body.readme).toBeUndefined();
    expect(body.time).toBeUndefined();
  });

  it('round-trips dist-tags', async () => {
    expect((await publisher.npm(['dist-tag', 'add', '@acme/util@1.0.0', 'beta'])).code).toBe(0);
    const listed = await publisher.npm(['dist-tag', 'ls', '@acme/util']);
    expect(listed.stdout).toContain('beta: 1.0.0');
    expect((await packument(group, '@acme/util')).body?.['dist-tags'].beta).toBe('1.0.0');
    expect((await publisher.npm(['dist-tag', 'rm', '@acme/util', 'beta'])).code).toBe(0);
    expect((await publisher.npm(['dist-tag', 'ls', '@acme/util'])).stdout).not.toContain('beta');
  });

  it('deprecates a version and takes the deprecation back', async () => {
    const deprecated = await publisher.npm(['deprecate', 'acme-internal@1.0.0', 'use acme-core instead']);
    expect(deprecated.code, deprecated.stderr).toBe(0);
    expect((await packument(local, 'acme-internal')).body?.versions['1.0.0']?.deprecated).toBe('use acme-core instead');
    const project = makeProject({ 'acme-internal': '1.0.0' });
    const installed = await new NpmClient(group).npm(['install', '--no-audit'], project);
    expect(installed.stderr).toContain('use acme-core instead');
    expect((await publisher.npm(['deprecate', 'acme-internal@1.0.0', ''])).code).toBe(0);
    expect((await packument(local, 'acme-internal')).body?.versions['1.0.0']?.deprecated).toBeFalsy();
  });

  it('unpublishes one version, then the whole package', async () => {
    for (const version of ['1.0.0', '1.0.1']) {
      expect((await publisher.npm(['publish', makePackage({ name: 'acme-temp', version })])).code).toBe(0);
    }
    const one = await publisher.npm(['unpublish', 'acme-temp@1.0.1']);
    expect(one.code, one.stderr).toBe(0);
    const doc = await packument(local, 'acme-temp');
    expect(Object.keys(doc.body!.versions)).toEqual(['1.0.0']);
    expect(doc.body!['dist-tags'].latest).toBe('1.0.0');
    expect((await fetch(`${local}acme-temp/-/acme-temp-1.0.1.tgz`)).status).toBe(404);
    const all = await publisher.npm(['unpublish', 'acme-temp', '--force']);
    expect(all.code, all.stderr).toBe(0);
    expect((await packument(local, 'acme-temp')).status).toBe(404);
    expect((await fetch(`${local}acme-temp/-/acme-temp-1.0.0.tgz`)).status).toBe(404);
  });

  it('points latest at an environment tag when asked by header', async () => {
    expect((await publisher.npm(['publish', makePackage({ name: 'acme-env', version: '1.0.0' })])).code).toBe(0);
    expect((await publisher.npm(['publish', '--tag', 'staging', makePackage({ name: 'acme-env', version: '1.1.0' })])).code).toBe(0);
    expect((await packument(group, 'acme-env')).body?.['dist-tags'].latest).toBe('1.0.0');
    expect((await packument(group, 'acme-env', { 'registry-environment': 'staging' })).body?.['dist-tags'].latest).toBe('1.1.0');
    // Promotion is a dist-tag change.
    expect((await publisher.npm(['dist-tag', 'add', 'acme-env@1.1.0', 'latest'])).code).toBe(0);
    expect((await packument(group, 'acme-env')).body?.['dist-tags'].latest).toBe('1.1.0');
  });

  it('adds a user, logs in, tells who is logged in, and logs out (npm adduser/login/whoami/logout)', async () => {
    const client = new NpmClient(local);
    const prompts = [
      [/Username:/, 'bob'],
      [/Password:/, 'bob-password-1'],
      [/Email.*:/, 'bob@example.com'],
    ] as const;
    const added = await client.npmInteractive(['adduser', '--auth-type=legacy'], prompts);
    expect(added.code, added.stdout).toBe(0);
    expect(added.stdout).toContain('Logged in');
    expect((await client.npm(['whoami'])).stdout.trim()).toBe('bob');
    const logout = await client.npm(['logout']);
    expect(logout.code, logout.stderr).toBe(0);
    expect((await client.npm(['whoami'])).code).not.toBe(0);

    const wrong = await client.npmInteractive(['login', '--auth-type=legacy'], [prompts[0], [/Password:/, 'not-the-password'], prompts[2]]);
    expect(wrong.code).not.toBe(0);
    const login = await client.npmInteractive(['login', '--auth-type=legacy'], prompts);
    expect(login.code, login.stdout).toBe(0);
    expect((await client.npm(['whoami'])).stdout.trim()).toBe('bob');
  });

  it('searches hosted packages and caps the result size', async () => {
    const found = (await (await fetch(`${local}-/v1/search?text=acme&size=20`)).json()) as { objects: { package: { name: string } }[]; total: number };
    expect(found.objects.map((o) => o.package.name)).toEqual(expect.arrayContaining(['@acme/util', 'acme-internal']));
    const cli = await publisher.npm(['search', 'utilities', '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).map((p: { name: string }) => p.name)).toContain('@acme/util');
    expect((await fetch(`${local}-/v1/search?text=acme&size=100000000`)).status).toBe(400);
  });

  it('refuses to publish without a token (401) and with a read-only token (403)', async () => {
    const anonymous = await new NpmClient(local).npm(['publish', makePackage({ name: 'acme-anon', version: '1.0.0' })]);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/401|ENEEDAUTH|need auth/i);
    const readOnly = await new NpmClient(local, readOnlyToken).npm(['publish', makePackage({ name: 'acme-ro', version: '1.0.0' })]);
    expect(readOnly.code).not.toBe(0);
    expect(readOnly.stderr).toMatch(/403/);
    expect((await packument(local, 'acme-ro')).status).toBe(404);
  });

  it('publishes to the group by forwarding to its first hosted member', async () => {
    const viaGroup = await new NpmClient(group, token).npm(['publish', makePackage({ name: 'acme-via-group', version: '1.0.0' })]);
    expect(viaGroup.code, viaGroup.stderr).toBe(0);
    expect((await packument(local, 'acme-via-group')).status).toBe(200);
  });

  it('proxies cold then warm, and keeps serving from cache when the upstream is gone', async () => {
    const cold = await fetch(`${registry.url}/npmjs/pub-dep-b`);
    expect(['MISS', 'HIT']).toContain(cold.headers.get('x-cache'));
    const tarball = await fetch(`${registry.url}/npmjs/pub-dep-b/-/pub-dep-b-1.0.0.tgz`);
    expect(tarball.status).toBe(200);
    await tarball.arrayBuffer();
    const warm = await fetch(`${registry.url}/npmjs/pub-dep-b/-/pub-dep-b-1.0.0.tgz`);
    expect(warm.headers.get('x-cache')).toBe('HIT');
    await warm.arrayBuffer();

    await upstream.stop();
    await new Promise((r) => setTimeout(r, 1100)); // past the 1 s metadata TTL
    const stale = await fetch(`${registry.url}/npmjs/pub-dep-a`);
    expect(stale.status).toBe(200);
    expect(stale.headers.get('x-cache')).toBe('STALE');
    const project = makeProject({ '@acme/util': '1.0.0' });
    const client = new NpmClient(group);
    const installed = await client.npm(['install', '--no-audit', '--prefer-online'], project);
    expect(installed.code, installed.stderr).toBe(0);
    expect(existsSync(path.join(project, 'node_modules/pub-dep-b/package.json'))).toBe(true);
    const missing = await fetch(`${registry.url}/npmjs/never-fetched-package`);
    expect(missing.status).toBe(502);
    expect(((await missing.json()) as { error: string }).error).toBeTruthy();
    // Search of an unreachable upstream is an empty result, not an error.
    const search = (await (await fetch(`${registry.url}/npmjs/-/v1/search?text=pub`)).json()) as { objects: unknown[]; total: number };
    expect(search).toMatchObject({ objects: [], total: 0 });
  });
});
