// A password changed with the CLI (another process) stops the old one on a running server
// within the few seconds a token revocation takes, not after the whole time successful
// password checks are remembered (a minute): Basic clients (mvn, pip, twine) send the
// password on every request, and the remembered check must not outlive the password.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

describe('a password changed elsewhere', () => {
  let registry: RunningRegistry;
  const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`dave:${password}`).toString('base64')}` });
  const whoami = async (password: string) => {
    const response = await fetch(`${registry.url}/npm-local/-/whoami`, { headers: basic(password) });
    return { status: response.status, body: await response.text() };
  };

  beforeAll(async () => {
    registry = await startRegistry(`
auth: { anonymousRead: false, cacheSeconds: 1 }
repositories:
  npm-local: { format: npm, type: hosted }
`);
    const added = await runCli(['user', 'add', 'dave', '--password', 'first-password-1', '--config', registry.configFile]);
    expect(added.code, added.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
  });

  it('refuses the old password within seconds, and takes the new one', async () => {
    const before = await whoami('first-password-1');
    expect(before.status, before.body).toBe(200);
    expect(before.body).toContain('dave');

    const changed = await runCli(['user', 'set-password', 'dave', '--password', 'second-password-2', '--config', registry.configFile]);
    expect(changed.code, changed.stderr).toBe(0);
    // Tokens revoked elsewhere stop within auth.cacheSeconds (1 s here, 5 by default); so must
    // the old password (remembered for 60 s).
    const old = await eventually(() => whoami('first-password-1'), (r) => r.status === 401, { attempts: 60, intervalMs: 250 });
    expect(old.status, 'the old password still works 15 s after it was changed').toBe(401);

    const next = await whoami('second-password-2');
    expect(next.status, next.body).toBe(200);
  }, 60_000);
});
