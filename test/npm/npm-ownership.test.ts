// Which member answers for a name through an npm group, with the real npm client: the
// kernel's group policy (route plans) as the npm format uses it. A name belongs to the first
// hosted member holding it and is answered by that member alone: a hostile upstream behind a
// proxy member offering the same name (higher version, other bytes) and another user's copy
// in a second hosted member are never seen; a `routing` claim keeps a scope off the proxies
// before anything is published; writes go to the owner and refused ones are audited. Also the
// group cases the plugin's unit tests used to fake: merged proxies, cache revisions past a
// change, search, audit, a group without hosted or proxy members, a dead upstream.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makePackage, makeProject } from '../helpers/npm-client.js';
import { eventually, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

interface Packument {
  name: string;
  _rev?: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, { version: string; deprecated?: string; dist: { tarball: string; integrity: string; shasum: string } }>;
}

interface AuditEntry {
  action: string;
  outcome: string;
  principal: string;
  repository?: string;
  package?: string;
  details: Record<string, unknown>;
}

const ABBREVIATED = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

async function userWithToken(configFile: string, name: string, roles: string[]): Promise<string> {
  const added = await runCli(['user', 'add', name, '--password', `${name}-password-1`, '--roles', roles.join(','), '--config', configFile]);
  if (added.code !== 0 && !/already exists/.test(added.stderr)) throw new Error(added.stderr);
  const token = await runCli(['token', 'create', '--user', name, '--config', configFile]);
  if (token.code !== 0) throw new Error(token.stderr);
  return token.stdout.trim().split('\n').pop()!;
}

/** A package whose bytes say where it was published from (`origin.txt`). */
const originPackage = (name: string, version: string, origin: string) => makePackage({ name, version, description: `${name} from ${origin}` }, { 'origin.txt': origin });

describe('npm group ownership', () => {
  let hostile: RunningRegistry;
  let registry: RunningRegistry;
  let alice: string;
  let bob: string;
  let admin: string;
  let base: string;
  let group: string;
  /** Where the hostile upstream's log stood once its packages were published. */
  let hostileLogStart = 0;

  /** Requests the hostile upstream received for `name` since the setup (its debug request log). */
  const hostileHits = (name: string): number =>
    hostile
      .output()
      .slice(hostileLogStart)
      .split('\n')
      .filter((line) => {
        try {
          const entry = JSON.parse(line) as { msg?: string; path?: string };
          return entry.msg === 'request' && typeof entry.path === 'string' && decodeURIComponent(entry.path).split('/').slice(2).join('/').split('/-/')[0] === name;
        } catch {
          return false;
        }
      }).length;

  const get = async (url: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url, { headers: { accept: 'application/json', ...headers } });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, body, text };
  };
  const packument = (repo: string, name: string, headers: Record<string, string> = {}) => get(`${base}/${repo}/${name.replace('/', '%2f')}`, headers) as Promise<{ status: number; headers: Headers; body: Packument }>;
  const audit = async (action: string) => JSON.parse((await runCli(['audit', '--json', '--action', action, '--config', registry.configFile])).stdout) as AuditEntry[];

  beforeAll(async () => {
    // The hostile "public registry": a second registry-core, logging every request it gets.
    hostile = await startRegistry(`
logging: { level: debug, format: json }
auth: { anonymousRead: true }
repositories:
  public: { format: npm, type: hosted }
  mirror: { format: npm, type: hosted }
`);
    const hostileToken = await userWithToken(hostile.configFile, 'mallory', ['attackers']);
    const publishHostile = async (repo: string, dir: string, ...args: string[]) => {
      const published = await new NpmClient(`${hostile.url}/${repo}/`, hostileToken).npm(['publish', dir, ...args]);
      expect(published.code, published.stderr).toBe(0);
    };
    // The private name, squatted: the same version with other bytes, and a tempting higher one.
    await publishHostile('public', originPackage('acme-core', '1.0.0', 'hostile'));
    await publishHostile('public', originPackage('acme-core', '9.9.9', 'hostile'), '--tag', 'next');
    // A scope the group claims for its hosted member, offered upstream before anyone publishes it here.
    await publishHostile('public', originPackage('@acme/widget', '1.0.0', 'hostile'));
    // A public package two proxies know, each with a version of its own.
    await publishHostile('public', originPackage('pub-ok', '1.0.0', 'public'));
    await publishHostile('mirror', originPackage('pub-ok', '2.0.0', 'mirror'));

    hostileLogStart = hostile.output().length;
    const upstream = `${hostile.url}/public/`;
    registry = await startRegistry(`
auth:
  anonymousRead: true
  permissions:
    - { repositories: ["npm-local"], write: [acme], delete: [acme] }
    - { repositories: ["npm-other", "npm", "npm-outer", "npm-proxies", "npm-hosted"], write: [acme, outsiders], delete: [acme, outsiders] }
repositories:
  npm-local: { format: npm, type: hosted }
  npm-other: { format: npm, type: hosted }
  npmjs: { format: npm, type: proxy, upstream: "${upstream}", cache: { metadataTtl: 0 } }
  npm-mirror: { format: npm, type: proxy, upstream: "${hostile.url}/mirror/", cache: { metadataTtl: 0 } }
  npm:
    format: npm
    type: group
    members: [npm-local, npm-other, npmjs, npm-mirror]
    routing: { "@acme/*": [npm-local] }
  npm-inner: { format: npm, type: group, members: [npm-local] }
  npm-outer: { format: npm, type: group, members: [npmjs, npm-inner, npm-other] }
  npm-proxies: { format: npm, type: group, members: [npmjs] }
  npm-hosted: { format: npm, type: group, members: [npm-local, npm-other] }
`);
    base = registry.url;
    group = `${base}/npm/`;
    alice = await userWithToken(registry.configFile, 'alice', ['acme']);
    bob = await userWithToken(registry.configFile, 'bob', ['outsiders']);
    admin = await userWithToken(registry.configFile, 'root', ['admin']);
    // The upstream serves acme-core already, so a new hosted acme-core would shadow it: only
    // an administrator may publish it (the private name predates the squat), and makes alice
    // its owner.
    const shadowing = await new NpmClient(`${base}/npm-local/`, alice).npm(['publish', originPackage('acme-core', '1.0.0', 'owner')]);
    expect(shadowing.code).not.toBe(0);
    expect(shadowing.stderr).toContain('acme-core is served by npmjs, a proxy in group npm');
    const owned = await new NpmClient(`${base}/npm-local/`, admin).npm(['publish', originPackage('acme-core', '1.0.0', 'owner')]);
    expect(owned.code, owned.stderr).toBe(0);
    const owner = await runCli(['owners', 'add', 'npm-local', 'acme-core', 'alice', '--config', registry.configFile]);
    expect(owner.code, owner.stderr).toBe(0);
    // (The refused publish asked the upstream about acme-core: count from here.)
    hostileLogStart = hostile.output().length;
  }, 300_000);

  afterAll(async () => {
    await registry?.stop();
    await hostile?.stop();
  });

  it('serves a hosted name from its owner only: no upstream versions, the owner bytes for npm install', async () => {
    const own = (await packument('npm-local', 'acme-core')).body;
    for (const [repo, accept] of [['npm', 'application/json'], ['npm', ABBREVIATED], ['npm-outer', 'application/json']] as const) {
      const doc = await packument(repo, 'acme-core', { accept });
      expect(doc.status, repo).toBe(200);
      expect(Object.keys(doc.body.versions), `${repo} ${accept}`).toEqual(['1.0.0']);
      expect(doc.body['dist-tags'], repo).toEqual({ latest: '1.0.0' });
      expect(doc.body.versions['1.0.0']!.dist.integrity).toBe(own.versions['1.0.0']!.dist.integrity);
      expect(doc.body.versions['1.0.0']!.dist.tarball).toBe(`${base}/${repo}/acme-core/-/acme-core-1.0.0.tgz`);
      expect(doc.headers.get('x-registry-member'), repo).toBe('npm-local');
    }
    expect((await get(`${group}acme-core/9.9.9`)).status).toBe(404);
    expect((await get(`${group}acme-core/next`)).status).toBe(404);
    expect((await get(`${group}acme-core/-/acme-core-9.9.9.tgz`)).status).toBe(404);
    expect((await get(`${group}-/package/acme-core/dist-tags`)).body).toEqual({ latest: '1.0.0' });

    const project = makeProject({ 'acme-core': '*' });
    const installed = await new NpmClient(group).npm(['install', '--no-audit'], project);
    expect(installed.code, installed.stderr).toBe(0);
    expect(readFileSync(path.join(project, 'node_modules/acme-core/origin.txt'), 'utf8')).toBe('owner');
    expect(JSON.parse(readFileSync(path.join(project, 'node_modules/acme-core/package.json'), 'utf8')).version).toBe('1.0.0');
    const lock = JSON.parse(readFileSync(path.join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string; integrity?: string }> };
    expect(lock.packages['node_modules/acme-core']).toMatchObject({ resolved: `${group}acme-core/-/acme-core-1.0.0.tgz`, integrity: own.versions['1.0.0']!.dist.integrity });
    const tempted = await new NpmClient(group).npm(['install', '--no-audit', 'acme-core@9.9.9'], makeProject({}));
    expect(tempted.code).not.toBe(0);
    expect(tempted.stderr).toMatch(/ETARGET|No matching version/);
    // The proxy member was never asked about a name a hosted member holds.
    expect(hostileHits('acme-core')).toBe(0);
  });

  it("hides another user's copy of the name in a second hosted member: neither its versions nor its dist-tags", async () => {
    // bob may not publish it himself: the upstream serves the name (it would shadow it) ...
    const refused = await new NpmClient(`${base}/npm-other/`, bob).npm(['publish', originPackage('acme-core', '2.0.0', 'bob'), '--tag', 'bob']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/403.*would shadow/);
    // ... so the copy is one an administrator put there (say, before the group existed).
    const bobs = await new NpmClient(`${base}/npm-other/`, admin).npm(['publish', originPackage('acme-core', '2.0.0', 'bob'), '--tag', 'bob']);
    expect(bobs.code, bobs.stderr).toBe(0);
    expect(Object.keys((await packument('npm-other', 'acme-core')).body.versions)).toEqual(['2.0.0']);
    for (const repo of ['npm', 'npm-hosted', 'npm-outer']) {
      const doc = await packument(repo, 'acme-core');
      expect(Object.keys(doc.body.versions), repo).toEqual(['1.0.0']);
      expect(doc.body['dist-tags'], repo).toEqual({ latest: '1.0.0' });
      expect((await get(`${base}/${repo}/-/package/acme-core/dist-tags`)).body, repo).toEqual({ latest: '1.0.0' });
      expect((await get(`${base}/${repo}/acme-core/2.0.0`)).status, repo).toBe(404);
      expect((await get(`${base}/${repo}/acme-core/bob`)).status, repo).toBe(404);
      expect((await get(`${base}/${repo}/acme-core/-/acme-core-2.0.0.tgz`)).status, repo).toBe(404);
    }
    const tags = await new NpmClient(group).npm(['dist-tag', 'ls', 'acme-core']);
    expect(tags.stdout.trim()).toBe('latest: 1.0.0');
    const installed = await new NpmClient(group).npm(['install', '--no-audit', 'acme-core@bob'], makeProject({}));
    expect(installed.code).not.toBe(0);
  });

  it('never asks a proxy about a name a routing claim gives a hosted member, even before it is published', async () => {
    for (const url of [`${group}@acme%2fwidget`, `${group}@acme/widget`, `${group}@acme/widget/-/widget-1.0.0.tgz`, `${group}-/package/@acme/widget/dist-tags`, `${group}@acme%2fwidget/1.0.0`]) {
      expect((await get(url)).status, url).toBe(404);
    }
    const install = await new NpmClient(group).npm(['install', '--no-audit', '@acme/widget'], makeProject({}));
    expect(install.code).not.toBe(0);
    expect(hostileHits('@acme/widget')).toBe(0);

    // Published through the group, the new name lands in the claimed member and is served from it.
    const published = await new NpmClient(group, alice).npm(['publish', originPackage('@acme/widget', '0.1.0', 'owner')]);
    expect(published.code, published.stderr).toBe(0);
    expect((await packument('npm-local', '@acme/widget')).status).toBe(200);
    const doc = await packument('npm', '@acme/widget');
    expect(Object.keys(doc.body.versions)).toEqual(['0.1.0']);
    expect(doc.headers.get('x-registry-member')).toBe('npm-local');
    expect(hostileHits('@acme/widget')).toBe(0);

    // The counter counts: the proxy asked directly does reach the hostile upstream.
    expect((await packument('npmjs', '@acme/widget')).status).toBe(200);
    expect(await eventually(async () => hostileHits('@acme/widget'), (n) => n > 0)).toBeGreaterThan(0);
  });

  it('names the answering member(s) in X-Registry-Member; proxies alone answer a name no hosted member holds, merged', async () => {
    const merged = await packument('npm', 'pub-ok');
    expect(merged.status).toBe(200);
    expect(merged.headers.get('x-registry-member')).toBe('npmjs, npm-mirror');
    expect(Object.keys(merged.body.versions).sort()).toEqual(['1.0.0', '2.0.0']);
    // Each dist-tag from the first member having it: npmjs's latest.
    expect(merged.body['dist-tags']).toEqual({ latest: '1.0.0' });
    expect(merged.body.versions['2.0.0']!.dist.tarball).toBe(`${group}pub-ok/-/pub-ok-2.0.0.tgz`);
    // The merged answer's cache key is its members' revisions: the same bytes twice.
    const again = await packument('npm', 'pub-ok');
    expect(again.headers.get('etag')).toBe(merged.headers.get('etag'));

    const tarball = await fetch(`${group}pub-ok/-/pub-ok-2.0.0.tgz`);
    expect(tarball.status).toBe(200);
    await tarball.arrayBuffer();
    expect(tarball.headers.get('x-registry-member')).toBe('npm-mirror');
    const ownTarball = await fetch(`${group}acme-core/-/acme-core-1.0.0.tgz`);
    expect(ownTarball.headers.get('x-registry-member')).toBe('npm-local');
    await ownTarball.arrayBuffer();
    const project = makeProject({ 'pub-ok': '2.0.0' });
    const installed = await new NpmClient(group).npm(['install', '--no-audit'], project);
    expect(installed.code, installed.stderr).toBe(0);
    expect(readFileSync(path.join(project, 'node_modules/pub-ok/origin.txt'), 'utf8')).toBe('mirror');

    const search = await get(`${group}-/v1/search?text=acme-core`);
    expect(search.headers.get('x-registry-member')).toBe('npm-local, npm-other, npmjs, npm-mirror');
    const found = (search.body as { objects: { package: { name: string; version: string } }[] }).objects.filter((o) => o.package.name === 'acme-core');
    // One entry for the name, from the first member listing it: the owner's.
    expect(found.map((o) => o.package.version)).toEqual(['1.0.0']);
    expect((await get(`${group}-/v1/search?size=99999`)).status).toBe(400);
  });

  it('sends a write through the group to the owner of the name, and audits a refused one', async () => {
    // bob's own name, in the second hosted member; alice may write there too.
    const bobs = await new NpmClient(`${base}/npm-other/`, bob).npm(['publish', originPackage('bob-lib', '1.0.0', 'bob')]);
    expect(bobs.code, bobs.stderr).toBe(0);
    // bob owns bob-lib; alice writes to it once bob makes her an owner (through the group).
    const notYet = await new NpmClient(group, alice).npm(['publish', originPackage('bob-lib', '1.1.0', 'alice')]);
    expect(notYet.stderr).toMatch(/403.*owned by bob/);
    const added = await new NpmClient(group, bob).npm(['owner', 'add', 'alice', 'bob-lib']);
    expect(added.code, added.stderr).toBe(0);
    const viaGroup = await new NpmClient(group, alice).npm(['publish', originPackage('bob-lib', '1.1.0', 'alice')]);
    expect(viaGroup.code, viaGroup.stderr).toBe(0);
    expect(Object.keys((await packument('npm-other', 'bob-lib')).body.versions).sort()).toEqual(['1.0.0', '1.1.0']);
    expect((await packument('npm-local', 'bob-lib')).status).toBe(404);
    const tagged = await new NpmClient(group, alice).npm(['dist-tag', 'add', 'bob-lib@1.0.0', 'stable']);
    expect(tagged.code, tagged.stderr).toBe(0);
    expect((await packument('npm-other', 'bob-lib')).body['dist-tags']).toEqual({ latest: '1.1.0', stable: '1.0.0' });
    const deprecated = await new NpmClient(group, alice).npm(['deprecate', 'bob-lib@1.0.0', 'use 1.1']);
    expect(deprecated.code, deprecated.stderr).toBe(0);
    expect((await packument('npm-other', 'bob-lib')).body.versions['1.0.0']!.deprecated).toBe('use 1.1');

    // bob may write to the group and to npm-other, not to npm-local, which owns acme-core.
    const refused = await new NpmClient(group, bob).npm(['publish', originPackage('acme-core', '3.0.0', 'bob')]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/403/);
    expect(Object.keys((await packument('npm-other', 'acme-core')).body.versions)).toEqual(['2.0.0']);
    expect(Object.keys((await packument('npm-local', 'acme-core')).body.versions)).toEqual(['1.0.0']);
    const claimed = await new NpmClient(group, bob).npm(['publish', originPackage('@acme/bobs', '1.0.0', 'bob')]);
    expect(claimed.code).not.toBe(0);
    expect((await packument('npm-other', '@acme/bobs')).status).toBe(404);
    const entries = await audit('group.write-refused');
    expect(entries.map((e) => [e.principal, e.repository, e.package, e.outcome, e.details['member'], e.details['status']])).toEqual(
      expect.arrayContaining([
        ['bob', 'npm', 'acme-core', 'denied', 'npm-local', 403],
        ['bob', 'npm', '@acme/bobs', 'denied', 'npm-local', 403],
        ['alice', 'npm', 'bob-lib', 'denied', 'npm-other', 403],
      ]),
    );
    expect(entries.every((e) => e.principal === 'bob' || (e.principal === 'alice' && e.package === 'bob-lib'))).toBe(true);

    // A group without a hosted member takes no write at all.
    const nowhere = await new NpmClient(`${base}/npm-proxies/`, alice).npm(['publish', originPackage('nowhere', '1.0.0', 'alice')]);
    expect(nowhere.code).not.toBe(0);
    expect(nowhere.stderr).toMatch(/405/);
  });

  it('never serves a cached group answer past a change of the owner', async () => {
    const before = await packument('npm', 'acme-core', { accept: ABBREVIATED });
    expect((await packument('npm', 'acme-core', { accept: ABBREVIATED })).headers.get('etag')).toBe(before.headers.get('etag'));
    const next = await new NpmClient(`${base}/npm-local/`, alice).npm(['publish', originPackage('acme-core', '1.1.0', 'owner')]);
    expect(next.code, next.stderr).toBe(0);
    for (const repo of ['npm', 'npm-outer']) {
      const after = await packument(repo, 'acme-core', { accept: ABBREVIATED });
      expect(Object.keys(after.body.versions).sort(), repo).toEqual(['1.0.0', '1.1.0']);
    }
    expect((await packument('npm', 'acme-core', { accept: ABBREVIATED })).headers.get('etag')).not.toBe(before.headers.get('etag'));
    const deprecated = await new NpmClient(group, alice).npm(['deprecate', 'acme-core@1.0.0', 'gone']);
    expect(deprecated.code, deprecated.stderr).toBe(0);
    expect((await packument('npm', 'acme-core', { accept: ABBREVIATED })).body.versions['1.0.0']!.deprecated).toBe('gone');
    // The environment header applies to the group's answer.
    const staged = await new NpmClient(`${base}/npm-local/`, alice).npm(['dist-tag', 'add', 'acme-core@1.0.0', 'staging']);
    expect(staged.code, staged.stderr).toBe(0);
    expect((await packument('npm', 'acme-core', { 'registry-environment': 'staging' })).body['dist-tags'].latest).toBe('1.0.0');
    expect((await packument('npm', 'acme-core')).body['dist-tags'].latest).toBe('1.1.0');
  });

  it('answers audits from the first proxy member, and fails without one instead of reporting no advisories', async () => {
    const body = JSON.stringify({ 'pub-ok': ['1.0.0'] });
    const viaProxy = await fetch(`${group}-/npm/v1/security/advisories/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(viaProxy.status).toBe(200);
    expect(viaProxy.headers.get('x-registry-member')).toBe('npmjs');
    await viaProxy.arrayBuffer();
    const noProxy = await fetch(`${base}/npm-hosted/-/npm/v1/security/advisories/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(noProxy.status).toBeGreaterThanOrEqual(400);
    expect(((await noProxy.json()) as { error: string }).error).toMatch(/no proxy member/);
    const project = makeProject({ 'acme-core': '1.0.0' });
    const installed = await new NpmClient(`${base}/npm-hosted/`).npm(['install', '--no-audit'], project);
    expect(installed.code, installed.stderr).toBe(0);
    const audited = await new NpmClient(`${base}/npm-hosted/`).npm(['audit', '--json'], project);
    expect(audited.code).not.toBe(0);
    expect(`${audited.stdout}${audited.stderr}`).toMatch(/ENOAUDIT|audit endpoint returned an error/);
  });

  it('keeps answering owned names when the upstream is gone; an unknown name is then an error, not a 404', async () => {
    await hostile.stop();
    expect((await packument('npm', 'acme-core')).status).toBe(200);
    const unknown = await get(`${group}nobody-has-this`);
    expect(unknown.status).toBe(502);
  });
});
