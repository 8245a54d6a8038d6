// auth.permissions with the real npm client: a team publishes only its own scope, a
// read-only token cannot publish, a private repository answers 401 with npm's challenge to
// anonymous clients and 403 to users without a grant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makePackage } from '../helpers/npm-client.js';
import { rawRequest, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

async function userWithToken(configFile: string, name: string, roles: string[], readOnly = false): Promise<string> {
  const added = await runCli(['user', 'add', name, '--password', `${name}-password-1`, ...(roles.length ? ['--roles', roles.join(',')] : []), '--config', configFile]);
  if (added.code !== 0 && !/already exists/.test(added.stderr)) throw new Error(added.stderr);
  const token = await runCli(['token', 'create', '--user', name, ...(readOnly ? ['--read-only'] : []), '--config', configFile]);
  if (token.code !== 0) throw new Error(token.stderr);
  return token.stdout.trim().split('\n').pop()!;
}

describe('auth.permissions with npm', () => {
  let registry: RunningRegistry;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    registry = await startRegistry(`
auth:
  permissions:
    - { repositories: ["npm-*"], packages: ["@team-a/*"], write: [team-a], delete: [team-a] }
    - { repositories: ["npm-*"], write: [releasers], delete: [releasers] }
    - { repositories: ["npm-private"], read: [$authenticated, team-a] }
    - { repositories: ["npm-local"], packages: ["@secret/*"], read: [team-a] }
repositories:
  npm-local: { format: npm, type: hosted }
  npm-private: { format: npm, type: hosted }
`);
    tokens['alice'] = await userWithToken(registry.configFile, 'alice', ['team-a']);
    tokens['bob'] = await userWithToken(registry.configFile, 'bob', []);
    tokens['rel'] = await userWithToken(registry.configFile, 'rel', ['releasers']);
    tokens['aliceRead'] = await userWithToken(registry.configFile, 'alice', ['team-a'], true);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  const publish = (token: string, name: string, repository = 'npm-local') =>
    new NpmClient(`${registry.url}/${repository}/`, token).npm(['publish', makePackage({ name, version: '1.0.0' })]);

  it('lets a team publish its own scope, and nothing else', async () => {
    const own = await publish(tokens['alice']!, '@team-a/tool');
    expect(own.code, own.stderr).toBe(0);
    const other = await publish(tokens['alice']!, '@team-b/tool');
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/403/);
    expect(other.stderr).toMatch(/alice may not write @team-b\/tool in npm-local/);
  });

  it('refuses a user without a grant for the name, and allows the release group everywhere', async () => {
    const bob = await publish(tokens['bob']!, '@team-a/bobs');
    expect(bob.code).not.toBe(0);
    expect(bob.stderr).toMatch(/403/);
    const rel = await publish(tokens['rel']!, '@team-b/released');
    expect(rel.code, rel.stderr).toBe(0);
  });

  it('limits a scoped token to its repositories and package names, whatever its user may do', async () => {
    const scoped = await runCli(['token', 'create', '--user', 'rel', '--packages', '@team-a/*', '--repositories', 'npm-local', '--config', registry.configFile]);
    expect(scoped.stderr).toMatch(/limited to repositories npm-local; packages @team-a\/\*/);
    const token = scoped.stdout.trim().split('\n').pop()!;
    const inScope = await publish(token, '@team-a/by-release');
    expect(inScope.code, inScope.stderr).toBe(0);
    const otherName = await publish(token, '@team-b/by-release');
    expect(otherName.code).not.toBe(0);
    expect(otherName.stderr).toMatch(/403/);
    expect(otherName.stderr).toMatch(/limited to packages @team-a\/\*/);
    const otherRepository = await publish(token, '@team-a/elsewhere', 'npm-private');
    expect(otherRepository.code).not.toBe(0);
    expect(otherRepository.stderr).toMatch(/limited to npm-local/);
    const listed = JSON.parse((await runCli(['token', 'list', '--user', 'rel', '--json', '--config', registry.configFile])).stdout) as { packages?: string[] }[];
    expect(listed.some((t) => t.packages?.[0] === '@team-a/*')).toBe(true);
  });

  it('creates, lists and revokes tokens with npm token, scoped ones too', async () => {
    const client = new NpmClient(`${registry.url}/npm-local/`, tokens['rel']);
    const created = await client.npm(['token', 'create', '--password', 'rel-password-1', '--name', 'ci', '--scopes', '@team-a', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const token = (JSON.parse(created.stdout) as { token: string }).token;
    expect(token).toMatch(/^rc_/);
    const scoped = new NpmClient(`${registry.url}/npm-local/`, token);
    expect((await scoped.npm(['whoami'])).stdout.trim()).toBe('rel');
    expect((await publish(token, '@team-a/from-npm-token')).code).toBe(0);
    expect((await publish(token, '@team-b/from-npm-token')).stderr).toMatch(/limited to packages @team-a\/\*/);
    // A scoped token cannot mint a wider one.
    expect((await scoped.npm(['token', 'create', '--password', 'rel-password-1'])).stderr).toMatch(/403|may not create tokens/);
    const wrong = await client.npm(['token', 'create', '--password', 'not-the-password']);
    expect(wrong.code).not.toBe(0);
    const listed = JSON.parse((await client.npm(['token', 'list', '--json'])).stdout) as { key: string; name: string }[];
    const key = listed.find((t) => t.name === 'ci')!.key;
    const revoked = await client.npm(['token', 'revoke', key]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await scoped.npm(['whoami']);
    expect(after.code).not.toBe(0);
    expect(after.stderr).toMatch(/401|E401/);
    expect((JSON.parse((await client.npm(['token', 'list', '--json'])).stdout) as { name: string }[]).some((t) => t.name === 'ci')).toBe(false);
  });

  it('refuses a read-only token on publish with 403', async () => {
    const answer = await publish(tokens['aliceRead']!, '@team-a/readonly');
    expect(answer.code).not.toBe(0);
    expect(answer.stderr).toMatch(/403/);
    expect(answer.stderr).toMatch(/read-only/);
  });

  it('answers 401 with the npm challenge to anonymous readers of a private repository, and 200 to signed-in users', async () => {
    const published = await publish(tokens['alice']!, '@team-a/secret', 'npm-private');
    expect(published.code, published.stderr).toBe(0);
    const anonymous = await rawRequest(registry.url, '/npm-private/@team-a%2fsecret');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBeTruthy();
    const view = await new NpmClient(`${registry.url}/npm-private/`, tokens['bob']).npm(['view', '@team-a/secret', 'version']);
    expect(view.stdout.trim()).toBe('1.0.0');
    // The public repository stays readable without credentials.
    expect((await rawRequest(registry.url, '/npm-local/@team-a%2ftool')).status).toBe(200);
  });

  it('applies read rules for some names to those names only', async () => {
    expect((await publish(tokens['rel']!, '@secret/plans')).code).toBe(0);
    // Open names stay open to everyone; the secret ones need team-a.
    expect((await rawRequest(registry.url, '/npm-local/@team-a%2ftool')).status).toBe(200);
    const anonymous = await rawRequest(registry.url, '/npm-local/@secret%2fplans');
    expect(anonymous.status).toBe(401);
    expect((await rawRequest(registry.url, '/npm-local/@secret/plans/-/plans-1.0.0.tgz')).status).toBe(401);
    const bob = await new NpmClient(`${registry.url}/npm-local/`, tokens['bob']).npm(['view', '@secret/plans', 'version']);
    expect(bob.stderr).toMatch(/403/);
    const alice = await new NpmClient(`${registry.url}/npm-local/`, tokens['alice']).npm(['view', '@secret/plans', 'version']);
    expect(alice.stdout.trim()).toBe('1.0.0');
    // Search never shows what a direct read refuses.
    const names = async (token?: string) => {
      const answer = await fetch(`${registry.url}/npm-local/-/v1/search?text=plans`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      return ((await answer.json()) as { objects: { package: { name: string } }[] }).objects.map((o) => o.package.name);
    };
    expect(await names()).toEqual([]);
    expect(await names(tokens['bob'])).toEqual([]);
    expect(await names(tokens['alice'])).toEqual(['@secret/plans']);
  });

  it('lets a team unpublish its own names only', async () => {
    const client = new NpmClient(`${registry.url}/npm-local/`, tokens['bob']);
    const refused = await client.npm(['unpublish', '@team-b/released@1.0.0', '--force']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/403|may not/);
    const own = await new NpmClient(`${registry.url}/npm-local/`, tokens['alice']).npm(['unpublish', '@team-a/tool@1.0.0', '--force']);
    expect(own.code, own.stderr).toBe(0);
  });
});
