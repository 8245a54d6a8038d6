// The OCI token endpoint's access tokens are bound to the credential they were minted
// from: once the API token is revoked, neither the access token nor a token minted from
// it works, and minting from an access token never extends its life.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserAndToken, eventually, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

describe('OCI access tokens after their source token is revoked', () => {
  let node: RunningRegistry;
  let apiToken: string;

  beforeAll(async () => {
    // The revocation by the CLI (another process) applies within cacheSeconds: 1 s, not the default 5.
    node = await startRegistry(`auth: { cacheSeconds: 1 }
repositories:
  spec: { format: oci, type: hosted }
`);
    apiToken = await createUserAndToken(node.configFile, 'ci');
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
  });

  const tokenFrom = (authorization: string) =>
    fetch(`${node.url}/spec/v2/token?service=x&scope=${encodeURIComponent('repository:app:pull,push')}`, { headers: { authorization } });
  const versionCheck = (token: string) => fetch(`${node.url}/spec/v2/`, { headers: { authorization: `Bearer ${token}` } });
  const expiry = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { e: number }).e;

  it('refuses the access token and renewals from it once the API token is revoked', async () => {
    const first = await tokenFrom(`Basic ${Buffer.from(`ci:${apiToken}`).toString('base64')}`);
    expect(first.status).toBe(200);
    const access = ((await first.json()) as { token: string; scope: string }).token;
    expect((await versionCheck(access)).status).toBe(200);
    // Renewal from the access token works while the source is valid, and never extends it.
    const renewed = await tokenFrom(`Bearer ${access}`);
    expect(renewed.status).toBe(200);
    const child = ((await renewed.json()) as { token: string }).token;
    expect(expiry(child)).toBeLessThanOrEqual(expiry(access));
    expect((await versionCheck(child)).status).toBe(200);

    const revoked = await runCli(['token', 'revoke', apiToken, '--config', node.configFile]);
    expect(revoked.code, revoked.stderr).toBe(0);
    // Another process revoked it: the server notices within its few seconds of caching.
    expect((await eventually(() => versionCheck(access), (answer) => answer.status === 401)).status).toBe(401);
    expect((await versionCheck(child)).status).toBe(401);
    const again = await tokenFrom(`Bearer ${access}`);
    expect(again.status).toBe(401);
    expect(((await again.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('UNAUTHORIZED');
    expect((await tokenFrom(`Bearer ${child}`)).status).toBe(401);
  });
});
