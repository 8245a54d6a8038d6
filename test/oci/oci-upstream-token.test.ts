// An OCI proxy of a registry that wants Docker registry tokens: the CNCF distribution
// registry configured with token auth, and a token service written here that signs RS256
// JWTs with a certificate distribution trusts (as Docker Hub's auth service does) and
// checks the Basic credentials it is given. The kernel's token flow answers the upstream's
// Bearer challenge with the proxy's `upstreamAuth`, presents the token for each image's pull
// scope from then on, and never asks again while the token is valid.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobSet, skopeo, startDistribution, writeLayout, type Distribution } from '../helpers/oci.js';
import { startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const SERVICE = 'rc-test-registry';
const ISSUER = 'rc-test-issuer';
const noTls = ['--src-tls-verify=false', '--dest-tls-verify=false'];

interface TokenService {
  readonly url: string;
  /** Every token request: who asked (the Basic user, or anonymous) and for which scope. */
  readonly requests: { user: string; scope: string }[];
  readonly certFile: string;
  close(): Promise<void>;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** A token service for distribution: Basic `user:password` pairs, RS256 JWTs with an x5c chain. */
async function startTokenService(users: Record<string, string>): Promise<TokenService> {
  const dir = tempDir('token-service');
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', '/CN=rc-token-service', '-days', '2'], { stdio: 'ignore' });
  const key = createPrivateKey(readFileSync(keyFile));
  const cert = new X509Certificate(readFileSync(certFile));
  const requests: { user: string; scope: string }[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const scope = url.searchParams.get('scope') ?? '';
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [user, password] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [];
    requests.push({ user: user ?? 'anonymous', scope });
    if (!user || users[user] !== password) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
    const [type, name, actions] = scope.split(':');
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [cert.raw.toString('base64')] }));
    const claims = {
      iss: ISSUER,
      sub: user,
      aud: SERVICE,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access: type === 'repository' && name ? [{ type, name, actions: (actions ?? '').split(',').filter(Boolean) }] : [],
    };
    const body = `${header}.${b64url(JSON.stringify(claims))}`;
    const token = `${body}.${b64url(sign('sha256', Buffer.from(body), key))}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    certFile,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('OCI proxy of a registry that wants tokens (the kernel\'s token flow)', () => {
  let tokens: TokenService;
  let distribution: Distribution;
  let node: RunningRegistry;
  let layout: string;
  let image: ReturnType<BlobSet['image']>;

  beforeAll(async () => {
    tokens = await startTokenService({ pusher: 'push-secret', mirror: 'mirror-secret' });
    distribution = await startDistribution({
      auth: `{ token: { realm: "${tokens.url}/token", service: ${SERVICE}, issuer: ${ISSUER}, rootcertbundle: "${tokens.certFile}" } }`,
    });
    // Seeded by skopeo, which does the token flow itself.
    layout = tempDir('token-layout');
    const blobs = new BlobSet();
    image = blobs.image({ label: 'private', layers: 2 });
    writeLayout(layout, blobs, [{ ...image.descriptor, annotations: { 'org.opencontainers.image.ref.name': '1' } }]);
    const pushed = await skopeo(['copy', ...noTls, '--dest-creds', 'pusher:push-secret', `oci:${layout}:1`, `docker://127.0.0.1:${distribution.port}/team/private:1`]);
    expect(pushed.code, pushed.stderr).toBe(0);
    // Nothing is readable without a token.
    expect((await fetch(`${distribution.url}/v2/team/private/tags/list`)).status).toBe(401);
    node = await startRegistry(`repositories:
  mirror: { format: oci, type: proxy, upstream: "${distribution.url}/", upstreamAuth: { username: mirror, password: "\${MIRROR_PASSWORD}" }, cache: { allowedOrigins: ["${tokens.url}"] } }
  wrong: { format: oci, type: proxy, upstream: "${distribution.url}/", upstreamAuth: { username: mirror, password: not-it }, cache: { allowedOrigins: ["${tokens.url}"] } }
  closed: { format: oci, type: proxy, upstream: "${distribution.url}/", upstreamAuth: { username: mirror, password: "\${MIRROR_PASSWORD}" } }
`, { env: { MIRROR_PASSWORD: 'mirror-secret' } });
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    await distribution?.stop();
    await tokens?.close();
  });

  it('pulls through the proxy with a token bought with upstreamAuth, and asks the token service once per scope', async () => {
    const before = tokens.requests.length;
    const out = tempDir('token-pull');
    const pulled = await skopeo(['copy', ...noTls, `docker://127.0.0.1:${node.port}/mirror/team/private:1`, `oci:${out}:1`]);
    expect(pulled.code, pulled.stderr).toBe(0);
    const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests[0]!.digest).toBe(image.descriptor.digest);
    const asked = tokens.requests.slice(before);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.user === 'mirror' && r.scope === 'repository:team/private:pull')).toBe(true);
    // The token was kept: a manifest, a config and two layers needed one token request, not four.
    expect(asked).toHaveLength(1);
    // Pulled again through a fresh client: everything is a cache hit, nothing asked upstream.
    const again = await skopeo(['copy', ...noTls, `docker://127.0.0.1:${node.port}/mirror/team/private:1`, `oci:${tempDir('token-pull-2')}:1`]);
    expect(again.code, again.stderr).toBe(0);
    expect(tokens.requests.length).toBe(before + 1);
  });

  it('fails closed with wrong credentials, naming the token service and never the password', async () => {
    const answer = await fetch(`${node.url}/wrong/v2/team/private/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(answer.status).toBe(502);
    const body = await answer.text();
    expect(body).toMatch(/token service/);
    expect(body).not.toMatch(/not-it|mirror-secret/);
    expect(tokens.requests.some((r) => r.user === 'mirror' && r.scope === 'repository:team/private:pull')).toBe(true);
  });

  it('sends no credentials to a token service on an origin it may not reach', async () => {
    const before = tokens.requests.length;
    const answer = await fetch(`${node.url}/closed/v2/team/private/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(answer.status).toBeGreaterThanOrEqual(500);
    expect(tokens.requests.length).toBe(before);
    expect(node.output()).not.toContain('mirror-secret');
  });
});
