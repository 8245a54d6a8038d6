// The gcs storage driver in a running registry: `registry-core storage copy` from the
// filesystem to GCS and from GCS to S3, and large downloads redirected to V4 signed URLs.
// GCS is the GCS JSON API test server of @registry-core/testing (not Google Cloud Storage);
// S3 is s3rver.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGcsJsonApiServer, startS3rver, type TestGcs, type TestS3 } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserAndToken, repoRoot, runCli, startRegistry, tempDir } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');
const testDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('gcs storage in a running registry', () => {
  let gcs: TestGcs;
  let s3: TestS3;
  let keyFile = '';

  beforeAll(async () => {
    gcs = await startGcsJsonApiServer();
    await gcs.createBucket('blobs');
    const account = await gcs.addServiceAccount('registry');
    keyFile = path.join(tempDir('gcs-key'), 'key.json');
    writeFileSync(keyFile, JSON.stringify(account.keyFile));
    s3 = await startS3rver({ fromDir: testDir, buckets: ['blobs'] });
  }, 60_000);

  afterAll(async () => {
    await gcs?.stop();
    await s3?.stop();
  });

  it('copies blobs from fs to gcs and from gcs to s3, and redirects large gcs downloads to signed URLs', async () => {
    // Clients reach the store at another host name than the registry (localhost, not 127.0.0.1).
    const apiEndpoint = gcs.endpoint.replace('127.0.0.1', 'localhost');
    const config = (repositoryStorage: string) => `plugins: ["${plugin}"]
storage:
  local: { driver: fs, path: ./blobs }
  google: { driver: gcs, bucket: blobs, apiEndpoint: "${apiEndpoint}", keyFilename: "${keyFile}", selfSignedJwt: true, prefix: registry, redirect: { minSize: 1kb, expires: 60 } }
  amazon: { driver: s3, bucket: blobs, endpoint: "${s3.endpoint}", accessKeyId: ${s3.accessKeyId}, secretAccessKey: ${s3.secretAccessKey} }
repositories:
  files: { format: raw, type: hosted, storage: ${repositoryStorage} }
`;
    const large = 'x'.repeat(5000);
    const registry = await startRegistry(config('local'));
    const token = await createUserAndToken(registry.configFile, 'mover');
    for (const [name, body] of [['small.txt', 'small'], ['large.txt', large]] as const) {
      expect((await fetch(`${registry.url}/files/${name}`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body })).status).toBe(201);
    }
    await registry.stop();

    const copy = (from: string, to: string) => runCli(['storage', 'copy', '--from', from, '--to', to, '--switch', '--config', registry.configFile]);
    const toGcs = await copy('local', 'google');
    expect(toGcs.code, toGcs.stdout + toGcs.stderr).toBe(0);
    expect(toGcs.stdout).toContain('2 blobs: 2 copied (5005 bytes), 0 already there, 0 failed');
    expect((await gcs.requests()).some((r) => r.startsWith('POST /upload/storage/v1/b/blobs/o') && r.includes('name=registry%2Fstaging%2F'))).toBe(true);

    const onGcs = await startRegistry(config('google'), { dir: registry.dir });
    try {
      expect(await (await fetch(`${onGcs.url}/files/small.txt`)).text()).toBe('small');
      const answer = await fetch(`${onGcs.url}/files/large.txt`, { redirect: 'manual' });
      expect(answer.status).toBe(307);
      const location = answer.headers.get('location')!;
      expect(location.startsWith(`${apiEndpoint}/blobs/registry/sha256/`)).toBe(true);
      expect(location).toMatch(/X-Goog-Algorithm=GOOG4-RSA-SHA256.*X-Goog-Expires=60/);
      // The test server checks the V4 signature against the service account's public key.
      expect(await (await fetch(location)).text()).toBe(large);
    } finally {
      await onGcs.stop();
    }

    const toS3 = await copy('google', 'amazon');
    expect(toS3.code, toS3.stdout + toS3.stderr).toBe(0);
    expect(toS3.stdout).toContain('2 blobs: 2 copied (5005 bytes), 0 already there, 0 failed');
    // Each blob was read from GCS and checked by the s3 driver (size and sha256) before it
    // became visible there; the asset rows now point at s3.
    expect(toS3.stdout).toContain('2 assets now in amazon');
  });
});
