import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

/** A throw-away S3-compatible server for tests (s3rver, in its own process). */
export interface TestS3 {
  /** `http://127.0.0.1:<port>`: path-style addressing. */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** Create a bucket (idempotent). */
  createBucket(name: string): Promise<void>;
  /** Process id of the server (for memory figures). */
  readonly pid: number;
  stop(): Promise<void>;
}

// s3rver 3.7.1 in a child process. Two of its shortcuts break guarantees S3 gives, and the
// launcher replaces those store functions, nothing else:
// - listing walks its folders in directory order, not S3's UTF-8 byte order, so pages are
//   cut at the wrong places: the replacement sorts as S3 does;
// - a PUT writes straight into the object's file (and answers before the file is flushed),
//   so readers see partial objects during an overwrite: the replacement writes a temp file
//   and renames it into place, as S3's all-or-nothing PUT behaves; a server-side copy
//   (CopyObject) likewise copies to a temp file and renames it.
// What it does not emulate, and drivers must not rely on here: conditional writes
// (`If-None-Match: *` is ignored), SigV4 signature checks (only the access key id is
// checked). It runs with --openssl-legacy-provider: its continuation tokens use DES.
// Buckets are created over IPC (`{ createBucket }`), so callers need no S3 client.
const LAUNCHER = `
const S3rver = require('s3rver');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Readable, Transform } = require('stream');
const { pipeline } = require('stream/promises');
const FilesystemStore = require('s3rver/lib/stores/filesystem');
const S3Object = require('s3rver/lib/models/object');
const { walk } = require('s3rver/lib/utils');
const original = FilesystemStore.prototype.listObjects;
const bytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
FilesystemStore.prototype.listObjects = async function (bucket, options) {
  if (options.delimiter) return original.call(this, bucket, options);
  const { startAfter = '', prefix = '', maxKeys = Infinity } = options;
  const root = this.getBucketPath(bucket);
  const suffix = '._S3rver_object';
  const keys = [];
  for (const file of walk(root)) {
    if (!file.endsWith(suffix)) continue;
    const key = file.slice(root.length + 1, -suffix.length);
    if (key.startsWith(prefix) && bytes(key, startAfter) > 0) keys.push(key);
  }
  keys.sort(bytes);
  const page = keys.slice(0, maxKeys);
  const metadata = await Promise.all(page.map((key) => this.getMetadata(bucket, key).catch((e) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)))));
  const objects = page.map((key, i) => [key, metadata[i]]).filter(([, m]) => m !== undefined).map(([key, m]) => new S3Object(bucket, key, null, m));
  return { objects, commonPrefixes: [], isTruncated: keys.length > maxKeys };
};
FilesystemStore.prototype.putObject = async function (object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  const temp = objectPath + '.' + crypto.randomBytes(8).toString('hex') + '.partial';
  const md5 = crypto.createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  const count = new Transform({ transform(chunk, _encoding, callback) { md5.update(chunk); size += chunk.length; callback(null, chunk); } });
  try {
    await pipeline(source, count, fs.createWriteStream(temp));
    await fs.promises.rename(temp, objectPath);
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
    throw error;
  }
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};
const originalCopy = FilesystemStore.prototype.copyObject;
FilesystemStore.prototype.copyObject = async function (srcBucket, srcKey, destBucket, destKey, replacementMetadata) {
  const source = this.getResourcePath(srcBucket, srcKey, 'object');
  const target = this.getResourcePath(destBucket, destKey, 'object');
  if (source === target) return originalCopy.call(this, srcBucket, srcKey, destBucket, destKey, replacementMetadata);
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const temp = target + '.' + crypto.randomBytes(8).toString('hex') + '.partial';
  try {
    await fs.promises.copyFile(source, temp);
    await fs.promises.rename(temp, target);
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
    throw error;
  }
  const metadata = replacementMetadata || JSON.parse(await fs.promises.readFile(this.getResourcePath(srcBucket, srcKey, 'metadata.json'), 'utf8'));
  const md5 = await fs.promises.readFile(this.getResourcePath(srcBucket, srcKey, 'object.md5'), 'utf8').then((text) => text.trim(), () => undefined);
  await this.putMetadata(destBucket, destKey, metadata, md5);
  return this.getMetadata(destBucket, destKey);
};
const server = new S3rver({ address: '127.0.0.1', port: Number(process.env.S3RVER_PORT), directory: process.env.S3RVER_DIR, silent: true });
process.on('message', (message) => {
  if (!message || typeof message.createBucket !== 'string') return;
  server.store.putBucket(message.createBucket).then(
    () => process.send({ created: message.createBucket }),
    (error) => process.send({ created: message.createBucket, error: String(error) }),
  );
});
server.run().then(() => process.send('ready'), (error) => { console.error(error); process.exit(1); });
`;

/**
 * Start s3rver (a devDependency of the caller's package, resolved from `fromDir`) on a
 * free loopback port with its files in a temporary folder. Credentials are s3rver's
 * built-in pair.
 */
export async function startS3rver(options: { fromDir?: string; buckets?: readonly string[] } = {}): Promise<TestS3> {
  const fromDir = options.fromDir ?? process.cwd();
  // Fail early with a clear message when the package is not installed where asked.
  const s3rverDir = path.dirname(createRequire(path.join(fromDir, 'package.json')).resolve('s3rver/package.json'));
  const workspace = mkdtempSync(path.join(tmpdir(), 'rc-s3rver-'));
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', '-e', LAUNCHER], {
    cwd: path.dirname(path.dirname(s3rverDir)),
    env: { ...process.env, NODE_PATH: path.dirname(s3rverDir), S3RVER_PORT: String(port), S3RVER_DIR: workspace },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`s3rver exited with ${code} before it was ready`));
    child.once('exit', onExit);
    child.once('message', () => {
      child.off('exit', onExit);
      resolve();
    });
  });
  const createBucket = (name: string) =>
    new Promise<void>((resolve, reject) => {
      const onMessage = (message: { created?: string; error?: string }) => {
        if (message?.created !== name) return;
        child.off('message', onMessage);
        if (message.error && !/BucketAlreadyExists|already/i.test(message.error)) reject(new Error(`s3rver: cannot create bucket ${name}: ${message.error}`));
        else resolve();
      };
      child.on('message', onMessage);
      child.send({ createBucket: name });
    });
  for (const bucket of options.buckets ?? []) await createBucket(bucket);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    region: 'us-east-1',
    pid: child.pid!,
    createBucket,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(workspace, { recursive: true, force: true });
    },
  };
}
