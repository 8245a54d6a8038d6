import { createSign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { Logger } from '@registry-core/api';
import { describeStorageDriverConformance, failingStream, pseudoRandomBytes, readAll, serviceAccountToken, sha256Hex, startGcsJsonApiServer, type GcsServiceAccount, type TestGcs } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDriver, gcsStorageDriverDefinition, parseOptions } from './index.js';

// The real @google-cloud/storage SDK against the GCS JSON API test server of
// @registry-core/testing (its own process, so the memory test measures the driver only).
// It is not Google Cloud Storage: core/testing/src/gcs-json-api-server.ts says what it implements.
let gcs: TestGcs;
let account: GcsServiceAccount;
let buckets = 0;
const MiB = 1024 * 1024;

beforeAll(async () => {
  gcs = await startGcsJsonApiServer();
  account = await gcs.addServiceAccount('registry');
}, 60_000);

afterAll(async () => {
  await gcs?.stop();
});

async function freshBucket(): Promise<string> {
  const bucket = `b${++buckets}-${process.pid}`;
  await gcs.createBucket(bucket);
  return bucket;
}

function options(bucket: string, extra: Record<string, unknown> = {}) {
  return { bucket, apiEndpoint: gcs.endpoint, credentials: account.keyFile, selfSignedJwt: true, chunkSize: MiB, resumableThreshold: MiB, ...extra };
}

async function freshDriver(extra: Record<string, unknown> = {}) {
  return createDriver(parseOptions(options(await freshBucket(), extra)));
}

describeStorageDriverConformance('gcs (GCS JSON API test server)', async () => ({ driver: await freshDriver({ prefix: 'registry' }), cleanup: async () => undefined }), {
  largeObjectBytes: 64 * MiB,
  timeoutMs: 60_000,
});

// The same suite against a real bucket, when one is given: GCS_TEST_BUCKET, and credentials
// in GCS_TEST_KEY_FILE or Application Default Credentials (GCS_TEST_API_ENDPOINT and
// GCS_TEST_SELF_SIGNED_JWT=1 when the bucket is elsewhere than Google's endpoint). Each test works under a prefix of
// its own and deletes what it wrote.
const realBucket = process.env['GCS_TEST_BUCKET'];
if (realBucket) {
  let runs = 0;
  describeStorageDriverConformance(
    `gcs (real bucket ${realBucket})`,
    async () => {
      const config = parseOptions({
        bucket: realBucket,
        prefix: `registry-core-test/${process.pid}-${Date.now()}-${++runs}/`,
        ...(process.env['GCS_TEST_KEY_FILE'] ? { keyFilename: process.env['GCS_TEST_KEY_FILE'] } : {}),
        // Optional: another endpoint (Private Service Connect, another emulator).
        ...(process.env['GCS_TEST_API_ENDPOINT'] ? { apiEndpoint: process.env['GCS_TEST_API_ENDPOINT'] } : {}),
        ...(process.env['GCS_TEST_SELF_SIGNED_JWT'] === '1' ? { selfSignedJwt: true } : {}),
      });
      const driver = createDriver(config);
      const cleanup = async () => {
        for (let page = await driver.list(''); ; page = await driver.list('', { cursor: page.cursor! })) {
          await Promise.all(page.keys.map((key) => driver.delete(key)));
          if (page.cursor === undefined) break;
        }
      };
      return { driver, cleanup };
    },
    { largeObjectBytes: 32 * MiB, timeoutMs: 120_000 },
  );
} else {
  console.info('GCS_TEST_BUCKET is not set: the storage driver conformance suite ran against the GCS JSON API test server only, not against Google Cloud Storage');
}

const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } } as unknown as Logger;
const env = { configDir: '/', dataDir: '/', logger };

const pattern = pseudoRandomBytes;

/** The requests the server answered since `from`, as `METHOD path?query`. */
async function requestsSince(from: number): Promise<string[]> {
  return (await gcs.requests()).slice(from);
}

const CHUNK_PUT = /^PUT \/upload\/.*Content-Range: bytes \d/;

/**
 * Resolves once the server has taken a chunk uploaded since request `since` (or after 30 s):
 * a put made to fail then fails after some chunks however loaded the machine (a fixed delay
 * failed it before its first chunk went up when the machine was busy).
 */
async function chunkTaken(since: number): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until && !(await requestsSince(since)).some((r) => CHUNK_PUT.test(r))) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('GCS driver against the GCS JSON API test server', () => {
  it('sends a small body in one multipart upload and a large one in a resumable session of 256 KiB-multiple chunks', async () => {
    const driver = await freshDriver();
    let before = (await gcs.requests()).length;
    await driver.put('small', Readable.from([Buffer.from('tiny')]));
    const small = await requestsSince(before);
    expect(small.filter((r) => r.startsWith('POST /upload/'))).toEqual([expect.stringContaining('uploadType=multipart')]);
    // GCS answers a range past the end 416: an empty stream.
    expect((await readAll((await driver.get('small', { start: 10 }))!)).length).toBe(0);

    const size = 3 * MiB + 12_345;
    const bytes = pattern(size, 5);
    before = (await gcs.requests()).length;
    const info = await driver.put('big/object.bin', Readable.from([bytes.subarray(0, 2_000_000), bytes.subarray(2_000_000)]), { size, sha256: sha256Hex(bytes) });
    expect(info.size).toBe(size);
    const big = await requestsSince(before);
    expect(big.filter((r) => r.startsWith('POST /upload/'))).toEqual([expect.stringContaining('uploadType=resumable')]);
    // 1 MiB chunks: three full ones, then the last with the total size.
    const chunks = big.map((r) => /Content-Range: (bytes \d+-\d+\/[\d*]+)/.exec(r)?.[1]).filter((r) => r !== undefined);
    expect(chunks).toEqual([`bytes 0-${MiB - 1}/*`, `bytes ${MiB}-${2 * MiB - 1}/*`, `bytes ${2 * MiB}-${3 * MiB - 1}/*`, `bytes ${3 * MiB}-${size - 1}/${size}`]);
    expect((await readAll((await driver.get('big/object.bin', { start: 2_500_000, end: 2_599_999 }))!)).equals(bytes.subarray(2_500_000, 2_600_000))).toBe(true);
    expect(sha256Hex(await readAll((await driver.get('big/object.bin'))!))).toBe(sha256Hex(bytes));
  });

  it('resumes a resumable upload from what the server persisted after a failed chunk', async () => {
    const driver = await freshDriver();
    const bytes = pattern(3 * MiB, 13);
    await gcs.failChunks(1);
    const before = (await gcs.requests()).length;
    await driver.put('resumed', Readable.from([bytes]), { sha256: sha256Hex(bytes) });
    const sent = (await requestsSince(before)).map((r) => /Content-Range: (.*)\)$/.exec(r)?.[1]).filter((r) => r !== undefined);
    // The SDK asks where the new session stands; the first chunk fails (503); it asks
    // again and sends that chunk again.
    expect(sent.slice(0, 4)).toEqual(['bytes */*', `bytes 0-${MiB - 1}/*`, 'bytes */*', `bytes 0-${MiB - 1}/*`]);
    expect(sha256Hex(await readAll((await driver.get('resumed'))!))).toBe(sha256Hex(bytes));
  });

  it('cancels the resumable session of a put that fails after some chunks, and nothing appears', async () => {
    const driver = await freshDriver();
    const before = (await gcs.requests()).length;
    await expect(driver.put('broken.bin', failingStream(pattern(3 * MiB, 6), new Error('client went away'), () => chunkTaken(before)))).rejects.toThrow('client went away');
    const sent = await requestsSince(before);
    expect(sent.filter((r) => CHUNK_PUT.test(r)).length).toBeGreaterThan(0);
    expect(sent.filter((r) => r.startsWith('DELETE /upload/'))).toHaveLength(1);
    expect(await driver.head('broken.bin')).toBeUndefined();
    // The digest is known only at the end: the chunks went up, the last one never did.
    const bytes = pattern(3 * MiB, 7);
    await expect(driver.put('mismatch.bin', Readable.from([bytes]), { sha256: sha256Hex('other') })).rejects.toMatchObject({ code: 'EINTEGRITY' });
    await expect(driver.put('mismatch.bin', Readable.from([bytes]), { size: bytes.length - 1 })).rejects.toMatchObject({ code: 'EINTEGRITY' });
    expect((await driver.list('')).keys).toEqual([]);
  });

  it('refuses a resumable create-only put of an existing key with EEXIST and keeps the object', async () => {
    const driver = await freshDriver();
    const first = pattern(2 * MiB, 8);
    await driver.put('taken', Readable.from([first]), { createOnly: true });
    await expect(driver.put('taken', Readable.from([pattern(2 * MiB, 9)]), { createOnly: true })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(sha256Hex(await readAll((await driver.get('taken'))!))).toBe(sha256Hex(first));
  });

  it('moves a large object with several rewrite calls, continuing from each rewrite token', async () => {
    const driver = await freshDriver();
    const bytes = pattern(3 * MiB + 5, 10);
    await driver.put('staging/x', Readable.from([bytes]));
    const before = (await gcs.requests()).length;
    await driver.move('staging/x', 'sha256/ab/x');
    const rewrites = (await requestsSince(before)).filter((r) => r.includes('/rewriteTo/'));
    // The server copies 1 MiB a call: four calls, the last three with the token.
    expect(rewrites).toHaveLength(4);
    expect(rewrites.slice(1).every((r) => r.includes('rewriteToken='))).toBe(true);
    // Pinned to the source's generation, which alone is deleted afterwards.
    expect(rewrites.every((r) => r.includes('sourceGeneration='))).toBe(true);
    expect((await requestsSince(before)).filter((r) => r.startsWith('DELETE '))).toEqual([expect.stringMatching(/^DELETE \/storage\/v1\/b\/[^/]+\/o\/staging%2Fx\?ifGenerationMatch=\d+$/)]);
    expect((await driver.list('')).keys).toEqual(['sha256/ab/x']);
    expect(sha256Hex(await readAll((await driver.get('sha256/ab/x'))!))).toBe(sha256Hex(bytes));
  });

  it('fails a whole-object read whose bytes do not match the crc32c GCS states', async () => {
    const bucket = await freshBucket();
    const driver = createDriver(parseOptions(options(bucket)));
    const bytes = pattern(100_000, 11);
    await driver.put('rotten', Readable.from([bytes]));
    await gcs.corrupt({ bucket, name: 'rotten' });
    await expect(readAll((await driver.get('rotten'))!)).rejects.toThrow(/did not match/);
    // A range cannot be checked: its bytes come as stored.
    expect((await readAll((await driver.get('rotten', { start: 1 }))!)).equals(bytes.subarray(1))).toBe(true);
  });

  it('fails a resumable put when GCS stored other bytes than were sent, and removes only that generation', async () => {
    const driver = await freshDriver();
    const bytes = pattern(2 * MiB, 12);
    await gcs.corrupt({ nextUploads: 1 });
    await expect(driver.put('changed', Readable.from([bytes]))).rejects.toMatchObject({ code: 'EINTEGRITY', message: expect.stringMatching(/crc32c/) });
    expect(await driver.head('changed')).toBeUndefined();
    await driver.put('changed', Readable.from([bytes]));
    expect(sha256Hex(await readAll((await driver.get('changed'))!))).toBe(sha256Hex(bytes));
  });

  it('fills a listing page from several GCS pages when GCS answers short ones', async () => {
    const driver = await freshDriver();
    const keys = Array.from({ length: 7 }, (_, i) => `k/${i}`);
    for (const key of keys) await driver.put(key, Readable.from([Buffer.from(key)]));
    await gcs.capPages(2);
    try {
      const first = await driver.list('k/', { limit: 5 });
      expect(first).toEqual({ keys: keys.slice(0, 5), cursor: 'k/4' });
      expect(await driver.list('k/', { cursor: first.cursor!, limit: 5 })).toEqual({ keys: keys.slice(5) });
    } finally {
      await gcs.capPages(0);
    }
  });

  it('keeps keys under its prefix and lists only those', async () => {
    const bucket = await freshBucket();
    const inside = createDriver(parseOptions(options(bucket, { prefix: 'one/' })));
    const outside = createDriver(parseOptions(options(bucket)));
    await inside.put('a', Readable.from([Buffer.from('1')]));
    await outside.put('b', Readable.from([Buffer.from('2')]));
    expect((await inside.list('')).keys).toEqual(['a']);
    expect((await outside.list('')).keys).toEqual(['b', 'one/a']);
  });

  it('gives a V4 signed URL a plain client can download from, with the asked content type', async () => {
    const driver = await freshDriver({ prefix: 'signed' });
    await driver.put('dir/file name.txt', Readable.from([Buffer.from('signed bytes')]));
    const url = await driver.presignedGetUrl('dir/file name.txt', 60, { contentType: 'application/x-test' });
    expect(url).toMatch(/X-Goog-Algorithm=GOOG4-RSA-SHA256/);
    expect(url).toMatch(/X-Goog-Expires=60&/);
    const answer = await fetch(url!);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/x-test');
    expect(await answer.text()).toBe('signed bytes');
    // A changed URL is refused: the server checks the signature.
    expect((await fetch(url!.replace('file%20name', 'other'))).status).toBe(403);
    // Capped by signedUrlTtl, and off at 0.
    expect(await (await freshDriver({ signedUrlTtl: 30 })).presignedGetUrl('x', 600)).toMatch(/X-Goog-Expires=30&/);
    expect(await (await freshDriver({ signedUrlTtl: 0 })).presignedGetUrl('x', 600)).toBeUndefined();
    // Anonymous access cannot sign: the registry serves such downloads itself.
    expect(await createDriver(parseOptions({ bucket: 'any', apiEndpoint: gcs.endpoint, anonymous: true })).presignedGetUrl('x', 600)).toBeUndefined();
  });

  it('runs on Application Default Credentials from the metadata server and signs URLs through IAM signBlob', async () => {
    // A fixture GCE metadata server (tokens, the account's email) and IAM Credentials API
    // (signBlob, with the account's key). Its tokens are JWTs the test server can check.
    const robot = await gcs.addServiceAccount('robot');
    const seen: string[] = [];
    const fixture = createServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      seen.push(`${req.method} ${url.pathname}`);
      const send = (status: number, body: unknown, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type, 'metadata-flavor': 'Google' });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      if (url.pathname.startsWith('/computeMetadata/v1/')) {
        if (req.headers['metadata-flavor'] !== 'Google') return send(403, 'Missing Metadata-Flavor header', 'text/plain');
        const property = url.pathname.slice('/computeMetadata/v1/'.length);
        if (property === 'instance/service-accounts/default/token') return send(200, { access_token: serviceAccountToken(robot.keyFile), expires_in: 3599, token_type: 'Bearer' });
        if (property === 'instance/service-accounts/' || property === 'instance/service-accounts') return send(200, { default: { email: robot.email, aliases: ['default'], scopes: ['https://www.googleapis.com/auth/cloud-platform'] } });
        if (property === 'instance/service-accounts/default/email') return send(200, robot.email, 'text/plain');
        if (property === 'project/project-id') return send(200, gcs.projectId, 'text/plain');
        return send(404, 'not found', 'text/plain');
      }
      const sign = /^\/iam\/(.+):signBlob$/.exec(url.pathname);
      if (sign && req.method === 'POST' && decodeURIComponent(sign[1]!) === robot.email && /^Bearer ./.test(req.headers.authorization ?? '')) {
        let body = '';
        for await (const chunk of req) body += chunk;
        const payload = Buffer.from((JSON.parse(body) as { payload: string }).payload, 'base64');
        return send(200, { keyId: robot.keyFile['private_key_id'], signedBlob: createSign('sha256').update(payload).sign(robot.keyFile['private_key']!, 'base64') });
      }
      return send(404, { error: { code: 404, message: 'not found' } });
    });
    await new Promise<void>((resolve) => fixture.listen(0, '127.0.0.1', resolve));
    const fixtureHost = `127.0.0.1:${(fixture.address() as AddressInfo).port}`;
    const saved = { ...process.env };
    Object.assign(process.env, { GCE_METADATA_HOST: fixtureHost, METADATA_SERVER_DETECTION: 'assume-present' });
    delete process.env['GOOGLE_APPLICATION_CREDENTIALS'];
    try {
      const bucket = await freshBucket();
      const driver = await gcsStorageDriverDefinition.create({ bucket, apiEndpoint: gcs.endpoint, signingEndpoint: `http://${fixtureHost}/iam/` }, env);
      await driver.put('adc/file.txt', Readable.from([Buffer.from('through the metadata server')]));
      expect((await readAll((await driver.get('adc/file.txt'))!)).toString()).toBe('through the metadata server');
      const url = await driver.presignedGetUrl!('adc/file.txt', 60);
      expect(url).toContain(`X-Goog-Credential=${encodeURIComponent(robot.email)}`);
      expect(await (await fetch(url!)).text()).toBe('through the metadata server');
      expect(seen).toContain('GET /computeMetadata/v1/instance/service-accounts/default/token');
      expect(seen).toContain(`POST /iam/${robot.email}:signBlob`);
    } finally {
      process.env = saved;
      await new Promise((resolve) => fixture.close(resolve));
    }
  });

  it('says at start when the bucket is missing, a permission is missing, or the credentials are refused', async () => {
    await expect(gcsStorageDriverDefinition.create(options('no-such-bucket'), env)).rejects.toThrow(/bucket "no-such-bucket" at .* does not exist/);
    const bucket = await freshBucket();
    const readOnly = await gcs.addServiceAccount('reader', ['storage.objects.get', 'storage.objects.list']);
    await expect(gcsStorageDriverDefinition.create(options(bucket, { credentials: readOnly.keyFile }), env)).rejects.toThrow(
      /lack storage\.objects\.create, storage\.objects\.delete on bucket ".*"/,
    );
    // A key the server does not know (a deleted key, say).
    const unknown = { ...account.keyFile, private_key: (await gcs.addServiceAccount('other')).keyFile['private_key']! };
    await expect(gcsStorageDriverDefinition.create(options(bucket, { credentials: unknown }), env)).rejects.toThrow(/credentials were refused \(401/);
    const noFile = { ...options(bucket, { keyFilename: '/nonexistent/key.json' }), credentials: undefined };
    await expect(gcsStorageDriverDefinition.create(noFile, env)).rejects.toThrow(/"keyFilename" \/nonexistent\/key\.json cannot be read \(ENOENT\)/);
    // A broken key file: named, and none of its bytes (a private key) in the message.
    const broken = path.join(mkdtempSync(path.join(tmpdir(), 'gcs-key-')), 'key.json');
    writeFileSync(broken, `{"private_key": "-----BEGIN PRIVATE KEY-----SECRETSECRET`);
    const refused = await Promise.resolve(gcsStorageDriverDefinition.create({ ...noFile, keyFilename: broken }, env)).then(() => undefined, (error: Error) => error);
    expect(refused?.message).toMatch(/"keyFilename" .*key\.json is not a usable service-account key file/);
    expect(refused?.message).not.toMatch(/SECRET|BEGIN/);
    // No key and no Application Default Credentials (no metadata server either).
    const saved = { ...process.env };
    process.env['METADATA_SERVER_DETECTION'] = 'none';
    delete process.env['GOOGLE_APPLICATION_CREDENTIALS'];
    try {
      await expect(gcsStorageDriverDefinition.create({ bucket, apiEndpoint: gcs.endpoint }, env)).rejects.toThrow(/no credentials: set "keyFilename".*Application Default Credentials/);
    } finally {
      process.env = saved;
    }
    const driver = await gcsStorageDriverDefinition.create(options(bucket), env);
    await driver.close?.();
  });

  it('validates its options, naming each problem', () => {
    expect(() => parseOptions({})).toThrow(/"bucket" is required/);
    expect(() => parseOptions({ bucket: 'Bad/Name', chunkSize: 1000, apiEndpoint: 'ftp://x', extra: 1, signedUrlTtl: -1, credentials: { private_key: 'k' }, anonymous: 'yes' })).toThrow(
      /unknown option "extra".*"bucket" must be.*"credentials".*"apiEndpoint".*"anonymous".*"chunkSize".*"signedUrlTtl"/,
    );
    expect(() => parseOptions({ bucket: 'artifacts', chunkSize: 300_000 })).toThrow(/multiple of 262144/);
    expect(() => parseOptions({ bucket: 'artifacts', anonymous: true })).toThrow(/"anonymous" is for an emulator/);
    expect(parseOptions({ bucket: 'artifacts', prefix: 'reg' })).toMatchObject({ bucket: 'artifacts', prefix: 'reg/', chunkSize: 8 * MiB, resumableThreshold: 8 * MiB, signedUrlTtl: 3600, anonymous: false });
    expect(parseOptions({ bucket: 'artifacts', credentials: JSON.stringify({ client_email: 'a@b', private_key: 'k' }) }).credentials).toEqual({ client_email: 'a@b', private_key: 'k' });
  });
});
