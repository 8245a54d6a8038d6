// The host root as clients meet it: `GET /v2/_catalog` on the main port lists, across the
// repositories the caller may read, the `<repository>/<image>` names it can pull (paged
// with `n` and `last`), and a push sent without credentials is told that authentication is
// required (UNAUTHORIZED with a challenge), not that a token it never sent lacks a grant;
// DENIED is for credentials that lack the permission.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobSet, OciClient, errorCode, skopeo, writeMultiArchLayout } from '../helpers/oci.js';
import { createUserAndToken, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const PASSWORD = 'correct-horse-battery';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('OCI at the host root', () => {
  let node: RunningRegistry;
  let host: string;
  const noTls = ['--src-tls-verify=false', '--dest-tls-verify=false'];
  const creds = ['--dest-creds', `ci:${PASSWORD}`];
  let source: string;

  beforeAll(async () => {
    node = await startRegistry(`repositories:
  oci-local: { format: oci, type: hosted }
  private: { format: oci, type: hosted, anonymousRead: false }
  oci: { format: oci, type: group, members: [oci-local] }
auth:
  permissions:
    - { repositories: [private], read: [ci], write: [ci] }
`);
    host = `127.0.0.1:${node.port}`;
    await createUserAndToken(node.configFile, 'ci');
    source = tempDir('oci-root-src');
    writeMultiArchLayout(source, '1', 1);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
  });

  it('tells an anonymous push that authentication is required, and a signed-in user without the permission that it is denied', async () => {
    const anonymous = await skopeo(['copy', '--all', ...noTls, `oci:${source}:1`, `docker://${host}/oci-local/team/app:1`]);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/authentication required/);
    expect(anonymous.stderr).not.toMatch(/access token/);

    // The raw flow: no credentials at all, then the anonymous token the realm hands out.
    const raw = await fetch(`${node.url}/v2/oci-local/team/app/blobs/uploads/`, { method: 'POST' });
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toMatch(/^Bearer realm=".*",service=".*",scope="repository:oci-local\/team\/app:pull,push"$/);
    const body = await raw.text();
    expect(JSON.parse(body).errors[0]).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/^authentication required/) });
    const client = new OciClient(`${node.url}/v2/`);
    const withAnonymousToken = await client.request('oci-local/team/app/blobs/uploads/', { method: 'POST' });
    expect(withAnonymousToken.status).toBe(401);
    expect(withAnonymousToken.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const text = await withAnonymousToken.text();
    expect(JSON.parse(text).errors[0]).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/^authentication required/) });

    // Through the group, and at the repository's own mount, the same.
    for (const root of [`${node.url}/v2/oci/`, `${node.url}/oci-local/v2/`]) {
      const viaToken = await new OciClient(root).request('team/app/blobs/uploads/', { method: 'POST' });
      expect(viaToken.status).toBe(401);
      expect(JSON.parse(await viaToken.text()).errors[0]).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/^authentication required/) });
    }

    // Credentials that lack the permission: DENIED.
    await createUserAndToken(node.configFile, 'reader');
    const denied = await fetch(`${node.url}/v2/private/team/app/blobs/uploads/`, { method: 'POST', headers: { authorization: basic('reader', PASSWORD) } });
    expect(denied.status).toBe(403);
    expect(await errorCode(denied)).toBe('DENIED');
  });

  it('serves the catalog across the repositories the caller may read, paged with n and last', async () => {
    for (const target of ['oci-local/team/app:1', 'oci-local/base:1', 'private/secret/app:1']) {
      const push = await skopeo(['copy', '--all', ...noTls, ...creds, `oci:${source}:1`, `docker://${host}/${target}`]);
      expect(push.code, push.stderr).toBe(0);
    }
    const anonymous = await fetch(`${node.url}/v2/_catalog`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ repositories: ['oci-local/base', 'oci-local/team/app', 'oci/base', 'oci/team/app'] });

    const signedIn = await fetch(`${node.url}/v2/_catalog`, { headers: { authorization: basic('ci', PASSWORD) } });
    expect(await signedIn.json()).toEqual({ repositories: ['oci-local/base', 'oci-local/team/app', 'oci/base', 'oci/team/app', 'private/secret/app'] });

    const first = await fetch(`${node.url}/v2/_catalog?n=2`, { headers: { authorization: basic('ci', PASSWORD) } });
    expect(await first.json()).toEqual({ repositories: ['oci-local/base', 'oci-local/team/app'] });
    expect(first.headers.get('link')).toBe('</v2/_catalog?n=2&last=oci-local%2Fteam%2Fapp>; rel="next"');
    const second = await fetch(`${node.url}/v2/_catalog?n=2&last=oci-local%2Fteam%2Fapp`, { headers: { authorization: basic('ci', PASSWORD) } });
    expect(await second.json()).toEqual({ repositories: ['oci/base', 'oci/team/app'] });
    const third = await fetch(`${node.url}/v2/_catalog?n=2&last=oci%2Fteam%2Fapp`, { headers: { authorization: basic('ci', PASSWORD) } });
    expect(await third.json()).toEqual({ repositories: ['private/secret/app'] });
    expect(third.headers.get('link')).toBeNull();
    const bad = await fetch(`${node.url}/v2/_catalog?n=-1`);
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe('PAGINATION_NUMBER_INVALID');

    // A repository's own catalog is unchanged: its images, without its name.
    const own = await fetch(`${node.url}/v2/oci-local/_catalog`);
    expect(await own.json()).toEqual({ repositories: ['oci-local/base', 'oci-local/team/app'] });
  });
});
