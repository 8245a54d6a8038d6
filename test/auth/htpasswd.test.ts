// The htpasswd auth-provider plugin with the real npm client: users from a file written by
// Apache's htpasswd, their groups used by auth.permissions, through npm login and publish.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makePackage } from '../helpers/npm-client.js';
import { startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const HTPASSWD = '/usr/bin/htpasswd';

describe('htpasswd auth provider with npm', () => {
  let registry: RunningRegistry;
  let local: string;

  beforeAll(async () => {
    if (!existsSync(HTPASSWD)) throw new Error(`${HTPASSWD} is missing: apt-get install -y apache2-utils`);
    const dir = tempDir('htpasswd');
    const file = path.join(dir, 'htpasswd');
    execFileSync(HTPASSWD, ['-bcB', '-C', '5', file, 'alice', 'alice-secret-1']);
    execFileSync(HTPASSWD, ['-bB', '-C', '5', file, 'bob', 'bob-secret-1']);
    writeFileSync(path.join(dir, 'registry-core.config.yaml'), '');
    registry = await startRegistry(
      `
plugins: ["@registry-core/plugin-auth-htpasswd"]
auth:
  providers:
    - { id: htpasswd, file: ./htpasswd, groups: { team-a: [alice] } }
  permissions:
    - { repositories: ["*"], packages: ["@team-a/*"], write: [team-a] }
    - { repositories: ["*"], write: [] }
repositories:
  npm-local: { format: npm, type: hosted }
`,
      { dir },
    );
    local = `${registry.url}/npm-local/`;
  });
  afterAll(async () => {
    await registry?.stop();
  });

  const login = (client: NpmClient, user: string, password: string) =>
    client.npmInteractive(['login', '--auth-type=legacy'], [
      [/Username:/, user],
      [/Password:/, password],
      [/Email.*:/, `${user}@example.org`],
    ]);

  it('logs in a user of the file with npm, whose token carries the groups the file gives', async () => {
    const client = new NpmClient(local);
    const answer = await login(client, 'alice', 'alice-secret-1');
    expect(answer.code, answer.stdout).toBe(0);
    expect((await client.npm(['whoami'])).stdout.trim()).toBe('alice');
    const own = await client.npm(['publish', makePackage({ name: '@team-a/from-htpasswd', version: '1.0.0' })]);
    expect(own.code, own.stderr).toBe(0);
    const other = await client.npm(['publish', makePackage({ name: 'not-team-a', version: '1.0.0' })]);
    expect(other.stderr).toMatch(/alice may not write not-team-a/);
  });

  it('refuses a wrong password and a user outside the group', async () => {
    expect((await login(new NpmClient(local), 'alice', 'wrong-password')).code).not.toBe(0);
    const bob = new NpmClient(local);
    expect((await login(bob, 'bob', 'bob-secret-1')).code).toBe(0);
    const refused = await bob.npm(['publish', makePackage({ name: '@team-a/by-bob', version: '1.0.0' })]);
    expect(refused.stderr).toMatch(/403.*bob may not write npm-local/);
  });

  it('lists the plugin as active', async () => {
    expect(registry.output()).not.toMatch(/htpasswd.*(refused|failed)/i);
  });
});
