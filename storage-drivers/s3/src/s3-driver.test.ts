import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '@registry-core/api';
import { describeStorageDriverConformance, failingStream, readAll, sha256Hex, startS3rver, type TestS3 } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDriver, explainBucketError, parseOptions, s3StorageDriverDefinition } from './index.js';

// s3rver 3.7.1, an S3 emulator, in its own process (so the memory test measures the driver
// only), as @registry-core/testing starts it: see startS3rver for the two shortcuts of
// s3rver it replaces with S3's behaviour and what it does not emulate.
const packageDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
let s3: TestS3;
let endpoint = '';
let ACCESS_KEY = '';
let SECRET_KEY = '';
let buckets = 0;

const admin = () => new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } });

beforeAll(async () => {
  s3 = await startS3rver({ fromDir: packageDir });
  ({ endpoint, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } = s3);
  const client = admin();
  await client.send(new ListBucketsCommand({}));
  client.destroy();
}, 60_000);

afterAll(async () => {
  await s3?.stop();
});

async function freshBucket(): Promise<string> {
  const bucket = `b${++buckets}-${process.pid}`;
  await s3.createBucket(bucket);
  return bucket;
}

function options(bucket: string, extra: Record<string, unknown> = {}) {
  return { bucket, endpoint, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, partSize: 5 * 1024 * 1024, ...extra };
}

async function freshDriver(extra: Record<string, unknown> = {}, internal: { copyObjectLimit?: number } = {}) {
  return createDriver(parseOptions(options(await freshBucket(), extra)), internal);
}

describeStorageDriverConformance('s3 (s3rver)', async () => ({ driver: await freshDriver({ prefix: 'registry' }), cleanup: async () => undefined }), {
  largeObjectBytes: 64 * 1024 * 1024,
  timeoutMs: 60_000,
});

const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } } as unknown as Logger;
const env = { configDir: '/', dataDir: '/', logger };

/** Names of the S3 commands a driver's client sends. */
function recordCommands(driver: { client: S3Client }): string[] {
  const names: string[] = [];
  driver.client.middlewareStack.add(
    (next, context) => async (args) => {
      names.push(String(context['commandName']));
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  return names;
}

function pattern(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

describe('S3 driver against s3rver', () => {
  it('says at start when the bucket is missing or the credentials are refused', async () => {
    await expect(s3StorageDriverDefinition.create(options('no-such-bucket'), env)).rejects.toThrow(/bucket "no-such-bucket" at .* does not exist/);
    const bucket = await freshBucket();
    await expect(s3StorageDriverDefinition.create(options(bucket, { accessKeyId: 'WRONG' }), env)).rejects.toThrow(/InvalidAccessKeyId.*"accessKeyId"/);
    const driver = await s3StorageDriverDefinition.create(options(bucket), env);
    await driver.close?.();
  });

  it('explains the other refusals of HeadBucket (s3rver does not check SigV4 signatures, so these are synthetic)', () => {
    const config = parseOptions({ bucket: 'artifacts', region: 'eu-west-1' });
    const failure = (Code: string, httpStatusCode: number) => Object.assign(new Error(Code), { name: Code, Code, $metadata: { httpStatusCode } });
    expect(explainBucketError(config, failure('SignatureDoesNotMatch', 403)).message).toMatch(/bucket "artifacts" in region eu-west-1: .*SignatureDoesNotMatch.*"secretAccessKey"/);
    expect(explainBucketError(config, failure('AccessDenied', 403)).message).toMatch(/access was refused.*s3:ListBucket/);
    expect(explainBucketError(config, failure('PermanentRedirect', 301)).message).toMatch(/another region: set "region"/);
    expect(explainBucketError(config, failure('NotFound', 404)).message).toMatch(/does not exist/);
    expect(explainBucketError(config, Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' })).message).toMatch(/no credentials/);
  });

  it('validates its options, naming each problem', () => {
    expect(() => parseOptions({})).toThrow(/"bucket" is required/);
    expect(() => parseOptions({ bucket: 'a/b', partSize: 1024, endpoint: 'ftp://x', accessKeyId: 'k', extra: 1, presignedUrlTtl: -1, forcePathStyle: 'yes' })).toThrow(
      /unknown option "extra".*"bucket" must be.*"endpoint".*"forcePathStyle".*accessKeyId.*secretAccessKey.*"partSize".*"presignedUrlTtl"/,
    );
    const parsed = parseOptions({ bucket: 'artifacts', endpoint: 'http://127.0.0.1:9000', prefix: 'reg' });
    expect(parsed).toMatchObject({ bucket: 'artifacts', forcePathStyle: true, prefix: 'reg/', partSize: 8 * 1024 * 1024, queueSize: 2, presignedUrlTtl: 3600 });
    expect(parseOptions({ bucket: 'artifacts' }).forcePathStyle).toBe(false);
  });

  it('uploads a 20 MB object in 5 MiB parts and reads it and ranges of it back', async () => {
    const driver = await freshDriver();
    const sent = recordCommands(driver);
    const size = 20 * 1000 * 1000;
    const bytes = pattern(size, 5);
    const chunks = Array.from({ length: Math.ceil(size / 65536) }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536));
    const info = await driver.put('big/object.bin', Readable.from(chunks), { size, sha256: sha256Hex(bytes) });
    expect(info.size).toBe(size);
    expect(sent.filter((n) => n === 'UploadPartCommand')).toHaveLength(4);
    expect(sent).toContain('CreateMultipartUploadCommand');
    expect(sent).toContain('CompleteMultipartUploadCommand');
    expect(sent).not.toContain('PutObjectCommand');
    expect((await driver.head('big/object.bin'))?.size).toBe(size);
    expect((await readAll((await driver.get('big/object.bin', { start: 12_345_678, end: 12_445_677 }))!)).equals(bytes.subarray(12_345_678, 12_445_678))).toBe(true);
    expect((await readAll((await driver.get('big/object.bin', { start: size - 10 }))!)).equals(bytes.subarray(size - 10))).toBe(true);
    expect(sha256Hex(await readAll((await driver.get('big/object.bin'))!))).toBe(sha256Hex(bytes));
  });

  it('aborts the multipart upload of a put that fails after some parts', async () => {
    const driver = await freshDriver();
    const sent = recordCommands(driver);
    const bytes = pattern(12 * 1024 * 1024, 6);
    await expect(driver.put('broken.bin', failingStream(bytes, new Error('client went away')))).rejects.toThrow('client went away');
    expect(sent).toContain('UploadPartCommand');
    expect(sent).toContain('AbortMultipartUploadCommand');
    expect(sent).not.toContain('CompleteMultipartUploadCommand');
    expect(await driver.head('broken.bin')).toBeUndefined();
    // The digest is only known at the end: the parts went up, the completion never did.
    sent.length = 0;
    await expect(driver.put('mismatch.bin', Readable.from([bytes]), { sha256: sha256Hex('other') })).rejects.toMatchObject({ code: 'EINTEGRITY' });
    expect(sent).toContain('AbortMultipartUploadCommand');
    expect(sent).not.toContain('CompleteMultipartUploadCommand');
    expect((await driver.list('')).keys).toEqual([]);
  });

  it('gives a presigned URL a plain client can download from', async () => {
    const driver = await freshDriver({ prefix: 'signed' });
    await driver.put('dir/file name.txt', Readable.from([Buffer.from('signed bytes')]));
    const url = await driver.presignedGetUrl('dir/file name.txt', 60);
    expect(url).toMatch(/X-Amz-Signature=/);
    expect(url).toMatch(/X-Amz-Expires=60&/);
    const answer = await fetch(url!);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe('signed bytes');
    // Capped by presignedUrlTtl, and off at 0.
    expect(await (await freshDriver({ presignedUrlTtl: 30 })).presignedGetUrl('x', 600)).toMatch(/X-Amz-Expires=30&/);
    expect(await (await freshDriver({ presignedUrlTtl: 0 })).presignedGetUrl('x', 600)).toBeUndefined();
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

  it('moves an object over the CopyObject limit by streaming it into a multipart upload', async () => {
    const driver = await freshDriver({}, { copyObjectLimit: 1024 * 1024 });
    const sent = recordCommands(driver);
    const bytes = pattern(6 * 1024 * 1024, 7);
    await driver.put('staging/x', Readable.from([bytes]));
    sent.length = 0;
    await driver.move('staging/x', 'sha256/ab/x');
    expect(sent).not.toContain('CopyObjectCommand');
    expect(sent).toContain('CompleteMultipartUploadCommand');
    expect((await driver.list('')).keys).toEqual(['sha256/ab/x']);
    expect(sha256Hex(await readAll((await driver.get('sha256/ab/x'))!))).toBe(sha256Hex(bytes));
  });
});
