// `registry-core user set-password` revokes every token of the user; the token npm saved in
// .npmrc at its last login is then stale. `npm login` with the new password must still work:
// a login is judged by the name and password in its body, never refused for the stale
// bearer token npm sends along with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient } from '../helpers/npm-client.js';
import { eventually, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

describe('npm login after the password was changed', () => {
  let registry: RunningRegistry;

  beforeAll(async () => {
    // The revocation by the CLI (another process) applies within cacheSeconds: 1 s, not the default 5.
    registry = await startRegistry(`
auth: { cacheSeconds: 1 }
repositories:
  npm-local: { format: npm, type: hosted }
  npm: { format: npm, type: group, members: [npm-local] }
`);
    const added = await runCli(['user', 'add', 'carol', '--password', 'first-password-1', '--config', registry.configFile]);
    expect(added.code, added.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
  });

  for (const repository of ['npm-local', 'npm']) {
    it(`logs in with the new password over the stale token (${repository})`, async () => {
      const client = new NpmClient(`${registry.url}/${repository}/`);
      const prompts = (password: string) => [[/Username:/, 'carol'], [/Password:/, password], [/Email.*:/, 'carol@example.com']] as const;
      const first = await client.npmInteractive(['login', '--auth-type=legacy'], prompts(repository === 'npm' ? 'second-password-2' : 'first-password-1'));
      expect(first.code, first.stdout).toBe(0);
      expect((await client.npm(['whoami'])).stdout.trim()).toBe('carol');

      const next = repository === 'npm' ? 'third-password-3' : 'second-password-2';
      const changed = await runCli(['user', 'set-password', 'carol', '--password', next, '--config', registry.configFile]);
      expect(changed.code, changed.stderr).toBe(0);
      // The server learns of a revocation made by the CLI within seconds: until the stale
      // token is refused, the login below would not show anything.
      const whoami = await eventually(() => client.npm(['whoami']), (r) => r.code !== 0, { attempts: 100, intervalMs: 200 });
      expect(whoami.stderr).toMatch(/E401|401/);

      const again = await client.npmInteractive(['login', '--auth-type=legacy'], prompts(next));
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toContain('Logged in');
      expect((await client.npm(['whoami'])).stdout.trim()).toBe('carol');

      // A wrong password is still refused, whatever token npm sends along.
      const wrong = await client.npmInteractive(['login', '--auth-type=legacy'], prompts('never-the-password'));
      expect(wrong.code).not.toBe(0);
      expect(wrong.stdout + wrong.stderr).toMatch(/E401|401/);
    });
  }
});
