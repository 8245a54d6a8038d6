// The audit log and brute-force protection, driven by the real npm client: adduser,
// failed and good logins, publish, dist-tag, deprecate, unpublish, logout, and CLI token
// revocation all leave entries; `registry-core audit` and the admin API read them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makePackage } from '../helpers/npm-client.js';
import { eventually, rawRequest, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

interface Entry {
  action: string;
  outcome: string;
  principal: string;
  repository?: string;
  package?: string;
  version?: string;
  clientAddress?: string;
  details: Record<string, unknown>;
}


describe('audit log and login protection', () => {
  let registry: RunningRegistry;
  let local: string;
  let adminToken: string;

  beforeAll(async () => {
    registry = await startRegistry(`
# Revocations made by the CLI (another process) apply within cacheSeconds: 1 s, not the
# default 5, for the tests that wait for them.
auth: { allowRegistration: true, cacheSeconds: 1 }
repositories:
  npm-local: { format: npm, type: hosted }
`);
    local = `${registry.url}/npm-local/`;
    expect((await runCli(['user', 'add', 'root', '--password', 'root-password-1', '--roles', 'admin', '--config', registry.configFile])).code).toBe(0);
    adminToken = (await runCli(['token', 'create', '--user', 'root', '--config', registry.configFile])).stdout.trim().split('\n').pop()!;
  });
  afterAll(async () => {
    await registry?.stop();
  });

  const audit = async (...args: string[]) => JSON.parse((await runCli(['audit', '--json', ...args, '--config', registry.configFile])).stdout) as Entry[];

  it('records what a user does with npm, and who did it from where', async () => {
    const client = new NpmClient(local);
    const prompts = [
      [/Username:/, 'dora'],
      [/Password:/, 'dora-password-1'],
      [/Email.*:/, 'dora@example.org'],
    ] as const;
    expect((await client.npmInteractive(['adduser', '--auth-type=legacy'], prompts)).code).toBe(0);
    const wrong = await client.npmInteractive(['login', '--auth-type=legacy'], [prompts[0], [/Password:/, 'not-the-password'], prompts[2]]);
    expect(wrong.code).not.toBe(0);
    expect((await client.npmInteractive(['login', '--auth-type=legacy'], prompts)).code).toBe(0);
    expect((await client.npm(['publish', makePackage({ name: 'dora-lib', version: '1.0.0' })])).code).toBe(0);
    expect((await client.npm(['publish', makePackage({ name: 'dora-lib', version: '1.1.0' })])).code).toBe(0);
    expect((await client.npm(['dist-tag', 'add', 'dora-lib@1.0.0', 'stable'])).code).toBe(0);
    expect((await client.npm(['deprecate', 'dora-lib@1.0.0', 'use 1.1'])).code).toBe(0);
    expect((await client.npm(['unpublish', 'dora-lib@1.1.0'])).code).toBe(0);
    expect((await client.npm(['logout'])).code).toBe(0);

    const mine = (await audit('--user', 'dora')).reverse();
    // npm's adduser first tries to log in: an unknown user, then created.
    expect(mine[0]!.details).toEqual({ reason: 'unknown user' });
    expect(mine[3]!.details).toEqual({ reason: 'wrong password' });
    expect(mine.map((e) => `${e.outcome} ${e.action} ${e.package ?? ''}@${e.version ?? ''}`)).toEqual([
      'failed login @',
      'ok user.create @',
      'ok token.create @',
      'failed login @',
      'ok login @',
      'ok token.create @',
      'ok publish dora-lib@1.0.0',
      'ok publish dora-lib@1.1.0',
      'ok tag dora-lib@1.0.0',
      'ok deprecate dora-lib@1.0.0',
      'ok unpublish dora-lib@1.1.0',
      'ok logout @',
    ]);
    const publish = mine.find((e) => e.action === 'publish')!;
    expect(publish.repository).toBe('npm-local');
    expect(publish.clientAddress).toMatch(/127\.0\.0\.1/);
    expect(mine.find((e) => e.action === 'tag')!.details).toEqual({ tag: 'stable' });
    // Secrets never reach the log.
    expect(JSON.stringify(mine)).not.toMatch(/dora-password-1|rc_[A-Za-z0-9_-]{20}/);
    // Filters.
    expect((await audit('--action', 'publish', '--repo', 'npm-local')).every((e) => e.action === 'publish')).toBe(true);
    expect(await audit('--since', '2099-01-01')).toEqual([]);
    const text = await runCli(['audit', '--user', 'dora', '--action', 'unpublish', '--config', registry.configFile]);
    expect(text.stdout).toMatch(/unpublish +dora +npm-local dora-lib@1\.1\.0 from /);
  });

  it('records tokens created and revoked with the CLI; a revoked token stops working', async () => {
    expect((await runCli(['user', 'add', 'eve', '--password', 'eve-password-1', '--config', registry.configFile])).code).toBe(0);
    const created = await runCli(['token', 'create', '--user', 'eve', '--config', registry.configFile]);
    const token = created.stdout.trim().split('\n').pop()!;
    const client = new NpmClient(local, token);
    expect((await client.npm(['whoami'])).stdout.trim()).toBe('eve');
    const id = (JSON.parse((await runCli(['token', 'list', '--user', 'eve', '--json', '--config', registry.configFile])).stdout) as { id: string }[])[0]!.id;
    expect((await runCli(['token', 'revoke', id, '--config', registry.configFile])).code).toBe(0);
    // The server trusts a checked token for a few seconds; a revocation made elsewhere applies within them.
    const refused = await eventually(
      () => rawRequest(registry.url, '/npm-local/-/whoami', { headers: { authorization: `Bearer ${token}` } }),
      (answer) => answer.status === 401,
    );
    expect(refused.status).toBe(401);
    const events = await audit('--action', 'token.revoke');
    expect(events[0]).toMatchObject({ principal: 'cli', details: { token: id } });
  });

  it('revokes every token of a user whose password changes', async () => {
    expect((await runCli(['user', 'add', 'gina', '--password', 'gina-password-1', '--config', registry.configFile])).code).toBe(0);
    const token = (await runCli(['token', 'create', '--user', 'gina', '--config', registry.configFile])).stdout.trim().split('\n').pop()!;
    const whoami = () => rawRequest(registry.url, '/npm-local/-/whoami', { headers: { authorization: `Bearer ${token}` } });
    expect((await whoami()).status).toBe(200);
    const changed = await runCli(['user', 'set-password', 'gina', '--password', 'gina-password-2', '--config', registry.configFile]);
    expect(changed.code, changed.stderr).toBe(0);
    expect((await eventually(whoami, (answer) => answer.status === 401)).status).toBe(401);
    const basic = (password: string) =>
      rawRequest(registry.url, '/npm-local/-/whoami', { headers: { authorization: `Basic ${Buffer.from(`gina:${password}`).toString('base64')}` } });
    expect((await basic('gina-password-2')).status).toBe(200);
    expect((await eventually(() => basic('gina-password-1'), (answer) => answer.status === 401)).status).toBe(401);
    expect((await audit('--action', 'user.password'))[0]).toMatchObject({ principal: 'cli', details: { user: 'gina', tokensRevoked: 1 } });
  });

  it('backs off after repeated failed logins, per user and per address', async () => {
    expect((await runCli(['user', 'add', 'frank', '--password', 'frank-password-1', '--config', registry.configFile])).code).toBe(0);
    const login = (password: string) =>
      rawRequest(registry.url, '/npm-local/-/user/org.couchdb.user:frank', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'frank', password, type: 'user' }),
      });
    // A success first: it clears this address's count from the tests before.
    expect((await login('frank-password-1')).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await login('wrong-password')).status).toBe(401);
    // The sixth failure starts the wait; from then on even the right password waits.
    expect((await login('wrong-password')).status).toBe(401);
    const blocked = await login('frank-password-1');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(blocked.body).toMatch(/too many failed logins/);
    // Basic credentials on ordinary requests go through the same check.
    const basic = await rawRequest(registry.url, '/npm-local/-/whoami', { headers: { authorization: `Basic ${Buffer.from('frank:frank-password-1').toString('base64')}` } });
    expect(basic.status).toBe(429);
    const logins = await audit('--user', 'frank', '--action', 'login');
    expect(logins.filter((e) => e.outcome === 'failed').length).toBe(6);
    // The refused attempts are in the log too, with where they came from.
    const throttled = logins.filter((e) => e.outcome === 'denied');
    expect(throttled.length).toBe(2);
    expect(throttled[0]).toMatchObject({ principal: 'frank', clientAddress: expect.stringMatching(/127\.0\.0\.1/), details: { reason: 'throttled' } });
  });

  it('never writes a token or a password into its own log', async () => {
    expect(registry.output()).not.toMatch(/rc_[A-Za-z0-9_-]{20,}/);
    expect(registry.output()).not.toMatch(/password-1/);
  });

  it('serves the audit log to admins through the admin API', async () => {
    expect((await fetch(`${registry.url}/-/admin/audit`)).status).toBe(401);
    const doraToken = (await runCli(['token', 'create', '--user', 'dora', '--config', registry.configFile])).stdout.trim().split('\n').pop()!;
    expect((await fetch(`${registry.url}/-/admin/audit`, { headers: { authorization: `Bearer ${doraToken}` } })).status).toBe(403);
    const answer = await fetch(`${registry.url}/-/admin/audit?user=dora&action=publish&since=1h`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(answer.status).toBe(200);
    const { events } = (await answer.json()) as { events: Entry[] };
    expect(events.map((e) => e.version)).toEqual(['1.1.0', '1.0.0']);
    expect((await fetch(`${registry.url}/-/admin/audit?since=soon`, { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(400);
  });

  it('records a web sign-in as a login (by password and by token), and a refused one as failed', async () => {
    const signIn = (body: Record<string, string>) => fetch(`${registry.url}/-/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await signIn({ user: 'root', password: 'root-password-1' })).status).toBe(200);
    expect((await signIn({ token: adminToken })).status).toBe(200);
    expect((await signIn({ user: 'root', password: 'not-it' })).status).toBe(401);
    const logins = (await audit('--user', 'root', '--action', 'login')).reverse();
    expect(logins.map((e) => [e.outcome, e.details['via'] ?? e.details['reason']])).toEqual([
      ['ok', 'web password'],
      ['ok', 'web token'],
      ['failed', 'wrong password'],
    ]);
    expect(logins[0]!.clientAddress).toMatch(/127\.0\.0\.1/);
  });
});
