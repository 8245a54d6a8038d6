// The Azure driver with Microsoft Entra ID credentials, end to end against Azurite:
// DefaultAzureCredential, unchanged, finds a managed identity through the App Service
// environment variables (IDENTITY_ENDPOINT, IDENTITY_HEADER), which point at a local
// token endpoint; Azurite runs with OAuth ("--oauth basic": it checks a token's audience,
// issuer and lifetime, not its signature), which it only offers over HTTPS, with a
// certificate made here. That certificate is self-signed, so this test file's process
// (and only it: vitest runs each file in a process of its own) does not verify it.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Logger } from '@registry-core/api';
import { describeStorageDriverConformance, readAll } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azureStorageDriverDefinition } from './index.js';
import { ACCOUNT, KEY, startAzurite, type TestAzurite } from './test-support/azurite.js';

process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0';

let azurite: TestAzurite | undefined;
let identity: Server | undefined;
let endpoint = '';
let tokensIssued = 0;
/** While set, the identity endpoint refuses (a machine without a usable identity). */
let identityDown = false;
let containers = 0;

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An access token as Entra ID issues one for Azure Storage (Azurite does not check the signature). */
function accessToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = { aud: 'https://storage.azure.com', iss: 'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/', nbf: now - 60, iat: now - 60, exp: now + 3600, oid: 'registry-core-test', tid: '72f988bf-86f1-41af-91ab-2d7cd011db47' };
  return `${base64url({ alg: 'RS256', typ: 'JWT' })}.${base64url(claims)}.${Buffer.from('not-verified').toString('base64url')}`;
}

const admin = () => azurite!.admin();

beforeAll(async () => {
  // The App Service managed-identity protocol (API version 2019-08-01).
  identity = createServer((req, res) => {
    const url = new URL(req.url!, 'http://identity');
    if (identityDown || req.headers['x-identity-header'] !== 'test-secret' || url.searchParams.get('api-version') !== '2019-08-01') {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_request', error_description: 'no identity here' }));
      return;
    }
    tokensIssued++;
    const expiresOn = Math.floor(Date.now() / 1000) + 3600;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: accessToken(), expires_on: String(expiresOn), expires_in: '3600', resource: url.searchParams.get('resource'), token_type: 'Bearer' }));
  });
  await new Promise<void>((resolve) => identity!.listen(0, '127.0.0.1', () => resolve()));
  Object.assign(process.env, { IDENTITY_ENDPOINT: `http://127.0.0.1:${(identity.address() as AddressInfo).port}/msi/token`, IDENTITY_HEADER: 'test-secret' });
  for (const name of ['AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_FEDERATED_TOKEN_FILE', 'MSI_ENDPOINT']) delete process.env[name];
  azurite = await startAzurite({
    tls: true,
    extraArgs: ['--oauth', 'basic'],
    prepare: (dir) =>
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' }),
  });
  endpoint = azurite.endpoint;
}, 60_000);

afterAll(async () => {
  await azurite?.stop();
  identity?.close();
});

const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } } as unknown as Logger;
const env = { configDir: '/', dataDir: '/', logger };

/** A driver with only the account name: the default credential chain signs in. */
async function entraDriver(prefix?: string) {
  const container = `entra${++containers}-${process.pid}`;
  await admin().getContainerClient(container).create();
  return azureStorageDriverDefinition.create({ container, accountName: ACCOUNT, endpoint, blockSize: 1024 * 1024, ...(prefix ? { prefix } : {}) }, env);
}

describeStorageDriverConformance('azure (azurite, Microsoft Entra ID)', async () => ({ driver: await entraDriver('registry'), cleanup: async () => undefined }), {
  largeObjectBytes: 32 * 1024 * 1024,
  timeoutMs: 60_000,
});

describe('Azure driver with Microsoft Entra ID', () => {
  it('signs in through the managed identity, and signs download URLs with a user delegation key', async () => {
    const before = tokensIssued;
    const driver = await entraDriver();
    expect(tokensIssued).toBeGreaterThan(before - 1);
    await driver.put('dir/file name.txt', Readable.from([Buffer.from('delegated bytes')]));
    const url = (await driver.presignedGetUrl!('dir/file name.txt', 120, { contentType: 'text/plain' }))!;
    // A user delegation SAS: signed with the key Azurite handed out, not with the account key.
    expect(url).toMatch(/[?&]skoid=/);
    expect(url).toMatch(/[?&]rsct=text%2Fplain/);
    const answer = await fetch(url);
    expect(answer.status, await answer.clone().text()).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/plain');
    expect(await answer.text()).toBe('delegated bytes');
    // The key is cached: a second URL asks for no new one (Azurite answers each request itself).
    const again = (await driver.presignedGetUrl!('dir/file name.txt', 120))!;
    expect(new URL(again).searchParams.get('skoid')).toBe(new URL(url).searchParams.get('skoid'));
    // Moves copy through the process (no account key to authorize a server-side copy of the source).
    await driver.move('dir/file name.txt', 'moved.txt');
    expect((await readAll((await driver.get('moved.txt'))!)).toString()).toBe('delegated bytes');
  });

  it('says at start when no identity can sign in, naming what to set', async () => {
    identityDown = true;
    try {
      // Another (user-assigned) identity: nothing of it is cached from the tests before.
      await expect(azureStorageDriverDefinition.create({ container: 'anything', accountName: ACCOUNT, endpoint, clientId: '11111111-2222-3333-4444-555555555555' }, env)).rejects.toThrow(/no Microsoft Entra ID credential could sign in.*AZURE_TENANT_ID.*managed identity.*accountKey/s);
    } finally {
      identityDown = false;
    }
  });

  it('validates the Entra ID options', async () => {
    const { parseOptions } = await import('./index.js');
    expect(parseOptions({ container: 'abc', accountName: ACCOUNT, clientId: '00000000-0000-0000-0000-000000000000' })).toMatchObject({ accountName: ACCOUNT, clientId: '00000000-0000-0000-0000-000000000000' });
    expect(() => parseOptions({ container: 'abc', accountName: ACCOUNT, accountKey: KEY, clientId: 'x' })).toThrow(/"clientId" is for Microsoft Entra ID credentials/);
    expect(() => parseOptions({ container: 'abc' })).toThrow(/give "accountName"/);
  });
});
