// Package ownership with the real clients (issue 17 items 4 and 12): a name belongs to its
// first publisher; another user's publish to it is refused with npm's error shape naming the
// owners; `npm owner add|ls|rm` change and show the owners (names and emails), and `npm
// search` shows who published; administrators always may. A name the group's proxy already
// serves (an upstream registry-core here) is refused in the hosted member unless a routing
// claim gives it to that member. And the same ownership holds for PyPI: twine by another user
// is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makePackage } from '../helpers/npm-client.js';
import { buildProject, twineUpload } from '../helpers/python.js';
import { runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

async function userWithToken(configFile: string, name: string, roles: string[], email?: string): Promise<string> {
  const added = await runCli(['user', 'add', name, '--password', `${name}-password-1`, '--roles', roles.join(','), ...(email ? ['--email', email] : []), '--config', configFile]);
  if (added.code !== 0) throw new Error(added.stderr);
  const token = await runCli(['token', 'create', '--user', name, '--config', configFile]);
  if (token.code !== 0) throw new Error(token.stderr);
  return token.stdout.trim().split('\n').pop()!;
}

const pkg = (name: string, version: string) => makePackage({ name, version, description: `${name} ${version}` });

describe('package ownership with npm and twine', () => {
  let upstream: RunningRegistry;
  let registry: RunningRegistry;
  let alice: string;
  let bob: string;
  let admin: string;
  let local: string;

  const writeConfig = (routing: string) => `
auth: { anonymousRead: true }
repositories:
  npm-local: { format: npm, type: hosted }
  npmjs: { format: npm, type: proxy, upstream: "${upstream.url}/public/", cache: { metadataTtl: 0 } }
  npm: { format: npm, type: group, members: [npm-local, npmjs]${routing} }
  pypi-local: { format: pypi, type: hosted }
`;

  beforeAll(async () => {
    // The "public registry" the proxy member mirrors: it serves lodash-like names.
    upstream = await startRegistry(`
auth: { anonymousRead: true }
repositories:
  public: { format: npm, type: hosted }
`);
    const publisher = await userWithToken(upstream.configFile, 'upstream-publisher', []);
    const seeded = await new NpmClient(`${upstream.url}/public/`, publisher).npm(['publish', pkg('lodash-like', '4.17.21')]);
    expect(seeded.code, seeded.stderr).toBe(0);
    registry = await startRegistry(writeConfig(''));
    local = `${registry.url}/npm-local/`;
    alice = await userWithToken(registry.configFile, 'alice', [], 'alice@example.test');
    bob = await userWithToken(registry.configFile, 'bob', [], 'bob@example.test');
    admin = await userWithToken(registry.configFile, 'root', ['admin']);
    const first = await new NpmClient(local, alice).npm(['publish', pkg('alices-lib', '1.0.0')]);
    expect(first.code, first.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await registry?.stop();
    await upstream?.stop();
  });

  const versions = async (name: string) => Object.keys(((await (await fetch(`${local}${name}`)).json()) as { versions: Record<string, unknown> }).versions);

  it("refuses another user's new version of a name, with npm's 403 naming the owner", async () => {
    const taken = await new NpmClient(local, bob).npm(['publish', pkg('alices-lib', '1.0.1')]);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toContain('E403');
    expect(taken.stderr).toContain('bob may not change alices-lib in npm-local: it is owned by alice');
    // Nor may bob move its tags, deprecate it, or take it over through the group.
    const tag = await new NpmClient(local, bob).npm(['dist-tag', 'add', 'alices-lib@1.0.0', 'mine']);
    expect(tag.code).not.toBe(0);
    expect(tag.stderr).toContain('owned by alice');
    const viaGroup = await new NpmClient(`${registry.url}/npm/`, bob).npm(['publish', pkg('alices-lib', '2.0.0')]);
    expect(viaGroup.code).not.toBe(0);
    expect(await versions('alices-lib')).toEqual(['1.0.0']);
    const audited = JSON.parse((await runCli(['audit', '--json', '--action', 'ownership.refused', '--config', registry.configFile])).stdout) as { principal: string; package: string }[];
    expect(audited.some((e) => e.principal === 'bob' && e.package === 'alices-lib')).toBe(true);
  });

  it('shows the owners with their emails (npm owner ls, npm view, npm search)', async () => {
    const ls = await new NpmClient(local, bob).npm(['owner', 'ls', 'alices-lib']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.trim()).toBe('alice <alice@example.test>');
    const publisher = await new NpmClient(local).npm(['view', 'alices-lib', '_npmUser', '--json']);
    expect(JSON.parse(publisher.stdout)).toBe('alice <alice@example.test>');
    const search = await new NpmClient(local).npm(['search', 'alices-lib', '--long']);
    expect(search.code, search.stderr).toBe(0);
    expect(search.stdout).toContain('by alice');
    expect(search.stdout).not.toContain('???');
  });

  it('lets an owner add and remove owners (npm owner add|rm); the added owner may publish', async () => {
    const refused = await new NpmClient(local, bob).npm(['owner', 'add', 'bob', 'alices-lib']);
    expect(refused.code).not.toBe(0);
    const added = await new NpmClient(local, alice).npm(['owner', 'add', 'bob', 'alices-lib']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('+ bob (alices-lib)');
    expect((await new NpmClient(local).npm(['owner', 'ls', 'alices-lib'])).stdout.trim().split('\n')).toEqual(['alice <alice@example.test>', 'bob <bob@example.test>']);
    const published = await new NpmClient(local, bob).npm(['publish', pkg('alices-lib', '1.1.0')]);
    expect(published.code, published.stderr).toBe(0);
    // bob, an owner now, removes alice; she is refused from then on.
    const removed = await new NpmClient(local, bob).npm(['owner', 'rm', 'alice', 'alices-lib']);
    expect(removed.code, removed.stderr).toBe(0);
    expect((await new NpmClient(local).npm(['owner', 'ls', 'alices-lib'])).stdout.trim()).toBe('bob <bob@example.test>');
    const gone = await new NpmClient(local, alice).npm(['publish', pkg('alices-lib', '1.2.0')]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('owned by bob');
    // The command line sees and changes the same owners.
    const cli = await runCli(['owners', 'ls', 'npm-local', 'alices-lib', '--config', registry.configFile]);
    expect(cli.stdout.trim()).toBe('bob <bob@example.test>');
    expect((await runCli(['owners', 'add', 'npm-local', 'alices-lib', 'alice', '--config', registry.configFile])).code).toBe(0);
    expect((await new NpmClient(local).npm(['owner', 'ls', 'alices-lib'])).stdout.trim().split('\n')).toEqual(['bob <bob@example.test>', 'alice <alice@example.test>']);
  });

  it('lets an administrator publish to any name', async () => {
    const published = await new NpmClient(local, admin).npm(['publish', pkg('alices-lib', '1.3.0')]);
    expect(published.code, published.stderr).toBe(0);
    expect(await versions('alices-lib')).toContain('1.3.0');
  });

  it("refuses a new hosted name the group's proxy serves, saying why; a routing claim allows it", async () => {
    const shadowing = await new NpmClient(local, alice).npm(['publish', pkg('lodash-like', '99.0.0')]);
    expect(shadowing.code).not.toBe(0);
    expect(shadowing.stderr).toContain('E403');
    expect(shadowing.stderr).toContain('lodash-like is served by npmjs, a proxy in group npm');
    expect(shadowing.stderr).toContain('routing');
    expect((await fetch(`${local}lodash-like`)).status).toBe(404);
    // The group still serves the upstream's package.
    const install = await new NpmClient(`${registry.url}/npm/`).npm(['view', 'lodash-like@^4', 'version']);
    expect(install.stdout.trim()).toBe('4.17.21');

    // A name the upstream does not serve is fine.
    const fresh = await new NpmClient(local, alice).npm(['publish', pkg('alices-other-lib', '1.0.0')]);
    expect(fresh.code, fresh.stderr).toBe(0);

    // Once the operator claims the name for the hosted member, it may be published there.
    await registry.stop();
    registry = await startRegistry(writeConfig(', routing: { "lodash-like": [npm-local] }'), { dir: registry.dir, port: registry.port });
    const claimed = await new NpmClient(local, alice).npm(['publish', pkg('lodash-like', '99.0.0')]);
    expect(claimed.code, claimed.stderr).toBe(0);
  });

  it("holds for PyPI: twine by another user to someone's project is refused", async () => {
    const first = await buildProject({ name: 'rc-owned-proj', version: '1.0.0', module: 'rc_owned', requiresPython: '>=3.8' });
    const second = await buildProject({ name: 'rc-owned-proj', version: '1.1.0', module: 'rc_owned', requiresPython: '>=3.8' });
    const url = `${registry.url}/pypi-local/`;
    const uploaded = await twineUpload(url, '__token__', alice, [first.wheel]);
    expect(uploaded.code, uploaded.stdout + uploaded.stderr).toBe(0);
    const taken = await twineUpload(url, '__token__', bob, [second.wheel]);
    expect(taken.code).not.toBe(0);
    expect(taken.stdout + taken.stderr).toMatch(/403/);
    expect(taken.stdout + taken.stderr).toContain('owned by alice');
    const owner = await twineUpload(url, '__token__', alice, [second.wheel]);
    expect(owner.code, owner.stdout + owner.stderr).toBe(0);
  });
});
