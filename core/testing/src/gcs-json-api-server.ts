import { fork, type ChildProcess } from 'node:child_process';
import { createHash, createPublicKey, createSign, generateKeyPairSync, randomBytes, verify as verifySignature, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { copyFile, open, rename, rm, stat, truncate } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// A test server for the subset of Google Cloud Storage's JSON API (v1) that the
// @google-cloud/storage SDK uses for objects, written from Google's public API reference.
// It is NOT Google Cloud Storage and not a general emulator. It implements:
// objects.insert (uploadType=multipart, and uploadType=resumable sessions: Content-Range
// chunks in multiples of 256 KiB from the persisted offset, 308 with Range, status queries,
// cancel by DELETE), objects.get (metadata, and alt=media with Range and x-goog-hash),
// objects.list (prefix, startOffset, maxResults <= 1000, page tokens tied to their
// listing), objects.delete, objects.rewrite (rewrite tokens, maxBytesRewrittenPerCall,
// sourceGeneration), buckets.testIamPermissions, generation preconditions (evaluated when
// the object is created; 412 conditionNotMet), crc32c/md5Hash in metadata and X-Goog-Hash
// checked, bearer tokens that are service-account JWTs (RS256, verified against the
// account's public key, expiry, scope) with per-account permissions, and V4 signed GET URLs
// (GOOG4-RSA-SHA256, verified against the account's public key). Not implemented: OAuth
// token exchange, ACLs, object versioning, composition, delimiters, customer-supplied
// encryption, the XML API, gzip transcoding; unsupported parameters are answered 501.

export interface GcsServiceAccount {
  /** `client_email` of the key file. */
  readonly email: string;
  /** A service-account key file's JSON (type, project_id, private_key_id, private_key, client_email, ...). */
  readonly keyFile: Record<string, string>;
}

/** A throw-away GCS JSON API test server in its own process. */
export interface TestGcs {
  /** `http://127.0.0.1:<port>`: the `apiEndpoint` of the SDK. */
  readonly endpoint: string;
  readonly projectId: string;
  /** Process id of the server (for memory figures). */
  readonly pid: number;
  /** Create a bucket (idempotent). */
  createBucket(name: string): Promise<void>;
  /**
   * A new service account with a key pair the server trusts, holding `permissions` on every
   * bucket (default: storage.objects.create, get, list, delete).
   */
  addServiceAccount(name: string, permissions?: readonly string[]): Promise<GcsServiceAccount>;
  /**
   * Faults a test cannot otherwise provoke: flip the first byte of a stored object (a store
   * that rots), or of the next `n` resumable uploads as they are finalized (bytes changed on
   * the way: the object then has the hashes of what was stored, not of what was sent).
   */
  corrupt(target: { bucket: string; name: string } | { nextUploads: number }): Promise<void>;
  /** Answer listings at most `n` items a page whatever maxResults asks, as GCS may (0: no cap). */
  capPages(n: number): Promise<void>;
  /** Answer the next `n` resumable chunk requests 503 after reading them, keeping none of their bytes. */
  failChunks(n: number): Promise<void>;
  /** Requests the server answered, as `METHOD path?query` and the Content-Range if any (for checks on what the SDK sent). */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
}

export const OBJECT_PERMISSIONS = ['storage.objects.create', 'storage.objects.get', 'storage.objects.list', 'storage.objects.delete'] as const;

const PROJECT = 'registry-core-test';

/**
 * An access token for the test server: a JWT the service account signs itself (RS256, the
 * storage scope, an hour), as google-auth-library makes with `useJWTAccessWithScope`.
 * `claims` override the defaults (to make expired or foreign tokens).
 */
export function serviceAccountToken(keyFile: Readonly<Record<string, string>>, claims: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${b64({ alg: 'RS256', typ: 'JWT', kid: keyFile['private_key_id'] })}.${b64({
    iss: keyFile['client_email'],
    sub: keyFile['client_email'],
    scope: 'https://www.googleapis.com/auth/devstorage.full_control',
    iat: now,
    exp: now + 3600,
    ...claims,
  })}`;
  return `${body}.${createSign('sha256').update(body).sign(keyFile['private_key']!, 'base64url')}`;
}

/**
 * Start the server (this module run as a child process) on a free loopback port with its
 * objects in a temporary folder. `rewriteBytesPerCall` is how much one rewrite call copies
 * when the client does not ask (default 1 MiB, so rewrites of larger objects need tokens).
 */
export async function startGcsJsonApiServer(options: { rewriteBytesPerCall?: number } = {}): Promise<TestGcs> {
  const here = fileURLToPath(import.meta.url);
  // Run the compiled module: from src (vitest), its sibling in dist.
  const script = here.endsWith('.ts') ? path.join(path.dirname(here), '..', 'dist', path.basename(here).replace(/\.ts$/, '.js')) : here;
  const child: ChildProcess = fork(script, ['--serve'], {
    env: { ...process.env, GCS_TEST_REWRITE_BYTES: String(options.rewriteBytesPerCall ?? 1024 * 1024) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const call = <T>(message: Record<string, unknown>): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const onMessage = (answer: { id?: number; error?: string; value?: T }) => {
        if (answer?.id !== id) return;
        child.off('message', onMessage);
        if (answer.error) reject(new Error(answer.error));
        else resolve(answer.value as T);
      };
      child.on('message', onMessage);
      child.send({ ...message, id });
    });
  const port = await new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`GCS test server exited with ${code} before it was ready`));
    child.once('exit', onExit);
    child.once('message', (message: { port: number }) => {
      child.off('exit', onExit);
      resolve(message.port);
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    projectId: PROJECT,
    pid: child.pid!,
    createBucket: (name) => call({ createBucket: name }),
    async addServiceAccount(name, permissions = OBJECT_PERMISSIONS) {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const email = `${name}@${PROJECT}.iam.gserviceaccount.com`;
      const keyId = randomBytes(20).toString('hex');
      await call({ addAccount: { email, keyId, publicKey: publicKey.export({ type: 'spki', format: 'pem' }), permissions } });
      return {
        email,
        keyFile: {
          type: 'service_account',
          project_id: PROJECT,
          private_key_id: keyId,
          private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          client_email: email,
          client_id: String(BigInt(`0x${randomBytes(8).toString('hex')}`)),
          auth_uri: 'https://accounts.google.com/o/oauth2/auth',
          token_uri: 'https://oauth2.googleapis.com/token',
        },
      };
    },
    requests: () => call({ requests: true }),
    corrupt: (target) => call({ corrupt: target }),
    failChunks: (n) => call({ failChunks: n }),
    capPages: (n) => call({ capPages: n }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// The server (runs in the child process).

const KiB = 1024;
const CHUNK_MULTIPLE = 256 * KiB;
const MAX_NAME_BYTES = 1024;

/** CRC32C (Castagnoli), as GCS computes it; its own table, independent of any SDK. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

class Crc32c {
  private value = 0xffffffff;
  update(data: Uint8Array): void {
    let c = this.value;
    for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    this.value = c;
  }
  copy(): Crc32c {
    const twin = new Crc32c();
    twin.value = this.value;
    return twin;
  }
  base64(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.value ^ 0xffffffff) >>> 0);
    return out.toString('base64');
  }
}

interface StoredObject {
  readonly name: string;
  readonly bucket: string;
  readonly generation: string;
  readonly metageneration: string;
  readonly size: number;
  readonly crc32c: string;
  readonly md5Hash: string;
  readonly contentType: string;
  readonly created: Date;
  /** The file holding this generation's bytes (never written again). */
  readonly file: string;
}

interface Preconditions {
  readonly ifGenerationMatch?: string;
  readonly ifGenerationNotMatch?: string;
}

interface UploadSession {
  readonly id: string;
  readonly bucket: string;
  readonly name: string;
  readonly contentType: string;
  readonly expectedCrc32c?: string;
  readonly expectedMd5?: string;
  readonly preconditions: Preconditions;
  readonly account: string;
  readonly file: string;
  persisted: number;
  crc: Crc32c;
  md5: ReturnType<typeof createHash>;
  state: 'open' | 'busy' | 'cancelled' | 'done';
  result?: StoredObject;
}

interface Account {
  readonly email: string;
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly permissions: ReadonlySet<string>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

function runServer(): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'rc-gcs-'));
  const rewriteBytes = Number(process.env['GCS_TEST_REWRITE_BYTES'] ?? 1024 * 1024);
  const buckets = new Map<string, Map<string, StoredObject>>();
  const accounts = new Map<string, Account>();
  const sessions = new Map<string, UploadSession>();
  const rewrites = new Map<string, { src: string; srcGeneration: string; dst: string; done: number; file: string }>();
  const log: string[] = [];
  let generationCounter = BigInt(Date.now()) * 1000n;
  const nextGeneration = () => String(++generationCounter);
  let port = 0;

  let corruptUploads = 0;
  let failChunks = 0;
  let pageCap = 0;
  const flipFirstByte = async (file: string) => {
    const handle = await open(file, 'r+');
    try {
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, 0);
      byte[0] = byte[0]! ^ 0xff;
      await handle.write(byte, 0, 1, 0);
    } finally {
      await handle.close();
    }
  };
  /** crc32c and md5 of a file, read again. */
  const hashFile = async (file: string) => {
    const crc = new Crc32c();
    const md5 = createHash('md5');
    for await (const chunk of createReadStream(file)) {
      crc.update(chunk as Buffer);
      md5.update(chunk as Buffer);
    }
    return { crc: crc.base64(), md5: md5.digest('base64') };
  };

  process.on('message', (message: { id: number; createBucket?: string; addAccount?: { email: string; keyId: string; publicKey: string; permissions: string[] }; requests?: boolean; corrupt?: { bucket?: string; name?: string; nextUploads?: number }; failChunks?: number; capPages?: number }) => {
    const reply = (value?: unknown) => process.send!({ id: message.id, value });
    if (message.capPages !== undefined) {
      pageCap = message.capPages;
      reply();
    } else if (message.failChunks !== undefined) {
      failChunks = message.failChunks;
      reply();
    } else if (message.corrupt) {
      const { bucket, name, nextUploads } = message.corrupt;
      if (nextUploads !== undefined) {
        corruptUploads = nextUploads;
        reply();
      } else {
        const object = buckets.get(bucket!)?.get(name!);
        if (!object) process.send!({ id: message.id, error: `no object ${bucket}/${name}` });
        else flipFirstByte(object.file).then(() => reply(), (error: Error) => process.send!({ id: message.id, error: error.message }));
      }
    } else if (message.createBucket !== undefined) {
      if (!buckets.has(message.createBucket)) buckets.set(message.createBucket, new Map());
      reply();
    } else if (message.addAccount) {
      const a = message.addAccount;
      accounts.set(a.email, { email: a.email, keyId: a.keyId, publicKey: createPublicKey(a.publicKey), permissions: new Set(a.permissions) });
      reply();
    } else if (message.requests) {
      reply(log.slice());
    }
  });
  const quit = () => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', quit);
  // The test process is gone (it crashed, or never called stop): do not outlive it.
  process.on('disconnect', quit);

  const resource = (o: StoredObject) => ({
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `http://127.0.0.1:${port}/storage/v1/b/${o.bucket}/o/${encodeURIComponent(o.name)}`,
    mediaLink: `http://127.0.0.1:${port}/download/storage/v1/b/${o.bucket}/o/${encodeURIComponent(o.name)}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: o.generation,
    metageneration: o.metageneration,
    contentType: o.contentType,
    storageClass: 'STANDARD',
    size: String(o.size),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    etag: Buffer.from(o.generation).toString('base64'),
    timeCreated: o.created.toISOString(),
    updated: o.created.toISOString(),
    timeStorageClassUpdated: o.created.toISOString(),
  });

  const bucketOf = (name: string) => {
    const bucket = buckets.get(name);
    if (!bucket) throw new HttpError(404, 'notFound', 'The specified bucket does not exist.');
    return bucket;
  };

  /** The account a request's bearer token (a self-signed service-account JWT) proves. */
  function authenticate(req: IncomingMessage): Account | undefined {
    const header = req.headers.authorization;
    if (header === undefined) return undefined;
    const match = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(header);
    if (!match) throw new HttpError(401, 'authError', 'Invalid Credentials');
    const [, h, p, s] = match;
    let head: { alg?: string; kid?: string };
    let claims: { iss?: string; sub?: string; exp?: number; iat?: number; scope?: string; aud?: string };
    try {
      head = JSON.parse(Buffer.from(h!, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
    } catch {
      throw new HttpError(401, 'authError', 'Invalid Credentials');
    }
    const account = claims.iss ? accounts.get(claims.iss) : undefined;
    if (head.alg !== 'RS256' || !account || claims.sub !== claims.iss || (head.kid !== undefined && head.kid !== account.keyId)) throw new HttpError(401, 'authError', 'Invalid Credentials');
    if (!verifySignature('sha256', Buffer.from(`${h}.${p}`), account.publicKey, Buffer.from(s!, 'base64url'))) throw new HttpError(401, 'authError', 'Invalid Credentials');
    const now = Date.now() / 1000;
    if (typeof claims.exp !== 'number' || claims.exp < now || typeof claims.iat !== 'number' || claims.iat > now + 300 || claims.exp - claims.iat > 3600) {
      throw new HttpError(401, 'authError', 'Invalid Credentials (token expired or not yet valid)');
    }
    const scopes = (claims.scope ?? '').split(' ');
    const scoped = scopes.some((scope) => /\/auth\/(devstorage\.(full_control|read_write)|cloud-platform)$/.test(scope));
    if (!scoped && claims.aud !== undefined && !/^https:\/\/storage\.googleapis\.com\/?$/.test(claims.aud)) throw new HttpError(403, 'insufficientPermissions', 'Insufficient Permission');
    return account;
  }

  function authorize(account: Account | undefined, permission: string, what: string): void {
    if (!account) throw new HttpError(401, 'required', `Anonymous caller does not have ${permission} access to the Google Cloud Storage ${what}. Permission '${permission}' denied on resource (or it may not exist).`);
    if (!account.permissions.has(permission)) {
      throw new HttpError(403, 'forbidden', `${account.email} does not have ${permission} access to the Google Cloud Storage ${what}. Permission '${permission}' denied on resource (or it may not exist).`);
    }
  }

  function preconditionsOf(query: URLSearchParams): Preconditions {
    const out: { ifGenerationMatch?: string; ifGenerationNotMatch?: string } = {};
    for (const key of ['ifGenerationMatch', 'ifGenerationNotMatch'] as const) {
      const value = query.get(key);
      if (value === null) continue;
      if (!/^\d+$/.test(value)) throw new HttpError(400, 'invalid', `Invalid value for ${key}: ${value}`);
      out[key] = value;
    }
    for (const key of ['ifMetagenerationMatch', 'ifMetagenerationNotMatch']) if (query.has(key)) throw new HttpError(501, 'notImplemented', `${key} is not implemented by this test server`);
    return out;
  }

  function checkPreconditions(current: StoredObject | undefined, pre: Preconditions): void {
    const generation = current?.generation ?? '0';
    if (pre.ifGenerationMatch !== undefined && pre.ifGenerationMatch !== generation) throw new HttpError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
    if (pre.ifGenerationNotMatch !== undefined && pre.ifGenerationNotMatch === generation) throw new HttpError(304, 'notModified', 'Not Modified');
  }

  function checkName(name: string | null): string {
    if (name === null || name === '') throw new HttpError(400, 'required', 'Required');
    if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES || name === '.' || name === '..' || /[\r\n]/.test(name) || name.startsWith('.well-known/acme-challenge/') || Buffer.from(name, 'utf8').toString('utf8') !== name) {
      throw new HttpError(400, 'invalid', 'The specified object name is not valid.');
    }
    return name;
  }

  /** The stored hashes given in metadata or X-Goog-Hash must match what was received. */
  function checkHashes(crc: string, md5: string, expected: { crc32c?: string; md5?: string }): void {
    if (expected.crc32c !== undefined && expected.crc32c !== crc) throw new HttpError(400, 'invalid', `Provided CRC32C "${expected.crc32c}" doesn't match calculated CRC32C "${crc}".`);
    if (expected.md5 !== undefined && expected.md5 !== md5) throw new HttpError(400, 'invalid', `Provided MD5 hash "${expected.md5}" doesn't match calculated MD5 hash "${md5}".`);
  }

  function goog_hash(header: string | string[] | undefined): { crc32c?: string; md5?: string } {
    const out: { crc32c?: string; md5?: string } = {};
    for (const part of [header].flat().join(',').split(',')) {
      const at = part.indexOf('=');
      if (at < 0) continue;
      const key = part.slice(0, at).trim();
      if (key === 'crc32c' || key === 'md5') out[key] = part.slice(at + 1).trim();
    }
    return out;
  }

  /** Make a finished file the current generation of an object, if the preconditions hold now. */
  async function commit(bucketName: string, name: string, file: string, size: number, crc32c: string, md5Hash: string, contentType: string, pre: Preconditions): Promise<StoredObject> {
    const bucket = bucketOf(bucketName);
    checkPreconditions(bucket.get(name), pre);
    const generation = nextGeneration();
    const target = path.join(dir, `obj-${generation}`);
    await rename(file, target);
    const object: StoredObject = { name, bucket: bucketName, generation, metageneration: '1', size, crc32c, md5Hash, contentType, created: new Date(), file: target };
    // Checked again after the await: nothing else may have committed in between.
    try {
      checkPreconditions(bucket.get(name), pre);
    } catch (error) {
      await rm(target, { force: true });
      throw error;
    }
    bucket.set(name, object);
    return object;
  }

  async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new HttpError(413, 'uploadTooLarge', 'This test server takes simple uploads of up to 64 MiB');
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  function parseJson(body: Buffer): Record<string, unknown> {
    if (body.length === 0) return {};
    try {
      const value = JSON.parse(body.toString('utf8'));
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
      return value as Record<string, unknown>;
    } catch {
      throw new HttpError(400, 'parseError', 'Parse Error');
    }
  }

  /** multipart/related: a JSON metadata part, then the media part. */
  function parseMultipart(contentType: string | undefined, body: Buffer): { metadata: Record<string, unknown>; media: Buffer; mediaType?: string } {
    const boundary = /^multipart\/related;\s*boundary=("?)([^";]+)\1/i.exec(contentType ?? '')?.[2];
    if (!boundary) throw new HttpError(400, 'invalid', 'Multipart upload needs Content-Type multipart/related with a boundary');
    const delimiter = Buffer.from(`--${boundary}`);
    const parts: Buffer[] = [];
    let at = body.indexOf(delimiter);
    if (at < 0) throw new HttpError(400, 'invalid', 'Malformed multipart body');
    for (;;) {
      const start = at + delimiter.length;
      if (body.subarray(start, start + 2).toString() === '--') break;
      const next = body.indexOf(delimiter, start);
      if (next < 0) throw new HttpError(400, 'invalid', 'Malformed multipart body: no closing delimiter');
      parts.push(body.subarray(start + 2, next - 2)); // after CRLF, before CRLF
      at = next;
    }
    if (parts.length !== 2) throw new HttpError(400, 'invalid', `Multipart upload needs exactly 2 parts, got ${parts.length}`);
    const split = (part: Buffer) => {
      const end = part.indexOf('\r\n\r\n');
      if (end < 0) throw new HttpError(400, 'invalid', 'Malformed multipart part');
      const headers = part.subarray(0, end).toString('latin1');
      return { type: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim(), data: part.subarray(end + 4) };
    };
    const meta = split(parts[0]!);
    if (!/^application\/json/i.test(meta.type ?? '')) throw new HttpError(400, 'invalid', 'The first multipart part must be application/json metadata');
    const media = split(parts[1]!);
    return { metadata: parseJson(meta.data), media: media.data, ...(media.type ? { mediaType: media.type } : {}) };
  }

  function metadataHashes(metadata: Record<string, unknown>): { crc32c?: string; md5?: string } {
    return {
      ...(typeof metadata['crc32c'] === 'string' ? { crc32c: metadata['crc32c'] } : {}),
      ...(typeof metadata['md5Hash'] === 'string' ? { md5: metadata['md5Hash'] } : {}),
    };
  }

  function listObjects(bucketName: string, query: URLSearchParams) {
    const bucket = bucketOf(bucketName);
    for (const key of ['delimiter', 'versions', 'matchGlob', 'endOffset']) if (query.has(key)) throw new HttpError(501, 'notImplemented', `${key} is not implemented by this test server`);
    const prefix = query.get('prefix') ?? '';
    const asked = Number(query.get('maxResults') ?? 1000);
    if (!Number.isInteger(asked) || asked < 1) throw new HttpError(400, 'invalid', 'Invalid value for maxResults');
    const maxResults = Math.min(asked, 1000, pageCap > 0 ? pageCap : Infinity);
    const startOffset = query.get('startOffset') ?? '';
    let after: string | undefined;
    const token = query.get('pageToken');
    if (token) {
      let decoded: { p?: string; s?: string; a?: string };
      try {
        decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      } catch {
        throw new HttpError(400, 'invalid', 'Invalid page token');
      }
      // A page token belongs to the listing that made it.
      if (decoded.p !== prefix || decoded.s !== startOffset || typeof decoded.a !== 'string') throw new HttpError(400, 'invalid', 'Invalid page token: it was made for another listing');
      after = decoded.a;
    }
    const names = [...bucket.keys()]
      .filter((name) => name.startsWith(prefix) && byteOrder(name, startOffset) >= 0 && (after === undefined || byteOrder(name, after) > 0))
      .sort(byteOrder);
    const page = names.slice(0, maxResults);
    const more = names.length > maxResults;
    return {
      kind: 'storage#objects',
      ...(page.length > 0 ? { items: page.map((name) => resource(bucket.get(name)!)) } : {}),
      ...(more ? { nextPageToken: Buffer.from(JSON.stringify({ p: prefix, s: startOffset, a: page.at(-1) })).toString('base64url') } : {}),
    };
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const data = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(data.length), ...headers });
    res.end(data);
  }

  async function download(req: IncomingMessage, res: ServerResponse, object: StoredObject, extraHeaders: Record<string, string> = {}): Promise<void> {
    const headers: Record<string, string> = {
      'content-type': object.contentType,
      'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5Hash}`,
      'x-goog-generation': object.generation,
      'x-goog-metageneration': object.metageneration,
      'x-goog-stored-content-encoding': 'identity',
      'x-goog-stored-content-length': String(object.size),
      etag: Buffer.from(object.generation).toString('base64'),
      'last-modified': object.created.toUTCString(),
      'accept-ranges': 'bytes',
      ...extraHeaders,
    };
    const range = req.headers.range;
    let start = 0;
    let end = object.size - 1;
    let status = 200;
    if (range !== undefined) {
      const match = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (!match || (match[1] === '' && match[2] === '')) throw new HttpError(400, 'invalid', `Invalid Range ${range}`);
      if (match[1] === '') {
        start = Math.max(0, object.size - Number(match[2]));
      } else {
        start = Number(match[1]);
        if (match[2] !== '') {
          end = Math.min(Number(match[2]), object.size - 1);
          if (Number(match[2]) < start) throw new HttpError(400, 'invalid', `Invalid Range ${range}`);
        }
      }
      if (start >= object.size) {
        res.writeHead(416, { 'content-type': 'application/json', 'content-range': `bytes */${object.size}` });
        res.end(JSON.stringify({ error: { code: 416, message: 'The requested range cannot be satisfied.', errors: [{ domain: 'global', reason: 'requestedRangeNotSatisfiable', message: 'The requested range cannot be satisfied.' }] } }));
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${object.size}`;
      // A partial answer's hash is not the object's: GCS still sends the object's x-goog-hash.
    }
    headers['content-length'] = String(object.size === 0 ? 0 : end - start + 1);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || object.size === 0) {
      res.end();
      return;
    }
    const stream = createReadStream(object.file, { start, end });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  /** A V4 signed URL: GOOG4-RSA-SHA256 over the canonical request, by a known account. */
  function checkSignedUrl(req: IncomingMessage, url: URL, pathname: string): void {
    const q = url.searchParams;
    if (q.get('X-Goog-Algorithm') !== 'GOOG4-RSA-SHA256') throw new HttpError(400, 'invalid', 'Only GOOG4-RSA-SHA256 signed URLs are implemented');
    const credential = q.get('X-Goog-Credential') ?? '';
    const [email, date8, location, service, kind] = credential.split('/');
    const account = email ? accounts.get(email) : undefined;
    const signedAt = q.get('X-Goog-Date') ?? '';
    const expires = Number(q.get('X-Goog-Expires'));
    const signedHeaders = q.get('X-Goog-SignedHeaders') ?? '';
    const signature = q.get('X-Goog-Signature') ?? '';
    const when = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(signedAt);
    if (!account || !when || date8 !== signedAt.slice(0, 8) || location !== 'auto' || service !== 'storage' || kind !== 'goog4_request') throw new HttpError(400, 'invalid', 'Malformed X-Goog-Credential');
    if (!Number.isInteger(expires) || expires < 1 || expires > 604800) throw new HttpError(400, 'invalid', 'X-Goog-Expires must be 1 to 604800');
    const signedTime = Date.UTC(Number(when[1]), Number(when[2]) - 1, Number(when[3]), Number(when[4]), Number(when[5]), Number(when[6]));
    if (Date.now() > signedTime + expires * 1000) throw new HttpError(400, 'expired', 'Request has expired');
    if (Date.now() < signedTime - 300_000) throw new HttpError(400, 'invalid', 'Request is not valid yet');
    const headerNames = signedHeaders.split(';');
    if (!headerNames.includes('host')) throw new HttpError(400, 'invalid', 'The host header must be signed');
    const canonicalHeaders = headerNames
      .map((name) => {
        // The SDK signs the host name without the port (it assumes GCS's standard port).
        const value = name === 'host' ? (req.headers.host ?? '').replace(/:\d+$/, '') : String(req.headers[name] ?? '');
        return `${name}:${value.trim().replace(/\s{2,}/g, ' ')}\n`;
      })
      .join('');
    const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const canonicalQuery = [...q.entries()]
      .filter(([key]) => key !== 'X-Goog-Signature')
      .map(([key, value]) => [enc(key), enc(value)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([key, value]) => `${key}=${value}`)
      .join('&');
    const canonicalRequest = [req.method, pathname, canonicalQuery, canonicalHeaders, signedHeaders, 'UNSIGNED-PAYLOAD'].join('\n');
    const toSign = ['GOOG4-RSA-SHA256', signedAt, `${date8}/auto/storage/goog4_request`, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
    if (!/^[0-9a-f]+$/.test(signature) || !verifySignature('sha256', Buffer.from(toSign), account.publicKey, Buffer.from(signature, 'hex'))) {
      throw new HttpError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    }
    if (!account.permissions.has('storage.objects.get')) throw new HttpError(403, 'AccessDenied', `${account.email} does not have storage.objects.get access to the Google Cloud Storage object.`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = url.searchParams;
    log.push(`${req.method} ${url.pathname}${url.search}${req.headers['content-range'] ? ` (Content-Range: ${req.headers['content-range']})` : ''}`);
    const raw = url.pathname;
    let m: RegExpExecArray | null;

    // A V4 signed URL (path style): /BUCKET/OBJECT?X-Goog-Signature=...
    if (q.has('X-Goog-Signature')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'invalid', 'Only GET signed URLs are implemented');
      m = /^\/([^/]+)\/(.+)$/.exec(raw);
      if (!m) throw new HttpError(400, 'invalid', 'Signed URL path must be /bucket/object');
      checkSignedUrl(req, url, raw);
      const object = bucketOf(decodeURIComponent(m[1]!)).get(decodeURIComponent(m[2]!));
      if (!object) throw new HttpError(404, 'NoSuchKey', 'The specified key does not exist.');
      const type = q.get('response-content-type');
      return download(req, res, object, type ? { 'content-type': type } : {});
    }

    const account = authenticate(req);

    if ((m = /^\/storage\/v1\/b\/([^/]+)\/iam\/testPermissions$/.exec(raw)) && req.method === 'GET') {
      if (!account) throw new HttpError(401, 'required', 'Anonymous caller does not have storage.buckets.getIamPolicy access');
      bucketOf(decodeURIComponent(m[1]!));
      const asked = q.getAll('permissions');
      if (asked.length === 0) throw new HttpError(400, 'required', 'Required parameter: permissions');
      const held = asked.filter((p) => account.permissions.has(p));
      return sendJson(res, 200, { kind: 'storage#testIamPermissionsResponse', ...(held.length ? { permissions: held } : {}) });
    }

    if ((m = /^\/storage\/v1\/b\/([^/]+)$/.exec(raw)) && req.method === 'GET') {
      authorize(account, 'storage.buckets.get', 'bucket');
      const name = decodeURIComponent(m[1]!);
      bucketOf(name);
      return sendJson(res, 200, { kind: 'storage#bucket', id: name, name, location: 'US', storageClass: 'STANDARD', metageneration: '1' });
    }

    if ((m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(raw)) && req.method === 'GET') {
      const bucketName = decodeURIComponent(m[1]!);
      bucketOf(bucketName);
      authorize(account, 'storage.objects.list', 'bucket');
      return sendJson(res, 200, listObjects(bucketName, q));
    }

    if ((m = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)\/rewriteTo\/b\/([^/]+)\/o\/([^/]+)$/.exec(raw)) && req.method === 'POST') {
      const [srcBucket, srcName, dstBucket, dstName] = [m[1]!, m[2]!, m[3]!, m[4]!].map(decodeURIComponent) as [string, string, string, string];
      authorize(account, 'storage.objects.get', 'object');
      authorize(account, 'storage.objects.create', 'object');
      checkName(dstName);
      const body = parseJson(await readBody(req, 1024 * 1024));
      const pre = preconditionsOf(q);
      const source = bucketOf(srcBucket).get(srcName);
      const ifSource = q.get('ifSourceGenerationMatch');
      // Without versioning, a generation that is not the current one does not exist.
      if (!source || (q.has('sourceGeneration') && q.get('sourceGeneration') !== source.generation)) throw new HttpError(404, 'notFound', `No such object: ${srcBucket}/${srcName}`);
      if (ifSource !== null && ifSource !== source.generation) throw new HttpError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
      checkPreconditions(bucketOf(dstBucket).get(dstName), pre);
      const asked = q.get('maxBytesRewrittenPerCall');
      if (asked !== null && (!/^\d+$/.test(asked) || Number(asked) % (1024 * 1024) !== 0 || Number(asked) === 0)) throw new HttpError(400, 'invalid', 'maxBytesRewrittenPerCall must be a positive multiple of 1048576');
      const perCall = asked !== null ? Number(asked) : rewriteBytes;
      const tokenIn = q.get('rewriteToken');
      const key = `${srcBucket}/${srcName}#${source.generation}->${dstBucket}/${dstName}`;
      let state = tokenIn ? rewrites.get(tokenIn) : undefined;
      if (tokenIn && (!state || state.dst !== `${dstBucket}/${dstName}` || state.src !== `${srcBucket}/${srcName}`)) throw new HttpError(400, 'invalid', 'Invalid rewrite token');
      if (state && state.srcGeneration !== source.generation) throw new HttpError(400, 'invalid', 'The source object changed during the rewrite: start again without the token');
      if (!state) {
        state = { src: `${srcBucket}/${srcName}`, srcGeneration: source.generation, dst: `${dstBucket}/${dstName}`, done: 0, file: path.join(dir, `rewrite-${randomBytes(8).toString('hex')}`) };
        await (await open(state.file, 'w')).close();
      }
      const step = Math.min(perCall, source.size - state.done);
      if (step > 0) {
        await new Promise<void>((resolve, reject) => {
          const from = createReadStream(source.file, { start: state!.done, end: state!.done + step - 1 });
          const to = createWriteStream(state!.file, { flags: 'a' });
          from.on('error', reject);
          to.on('error', reject).on('finish', resolve);
          from.pipe(to);
        });
        state.done += step;
      }
      if (state.done < source.size) {
        const token = tokenIn ?? randomBytes(24).toString('base64url');
        rewrites.set(token, state);
        void key;
        return sendJson(res, 200, { kind: 'storage#rewriteResponse', totalBytesRewritten: String(state.done), objectSize: String(source.size), done: false, rewriteToken: token });
      }
      if (tokenIn) rewrites.delete(tokenIn);
      const contentType = typeof body['contentType'] === 'string' ? body['contentType'] : source.contentType;
      const object = await commit(dstBucket, dstName, state.file, source.size, source.crc32c, source.md5Hash, contentType, pre).catch(async (error) => {
        await rm(state!.file, { force: true });
        throw error;
      });
      return sendJson(res, 200, { kind: 'storage#rewriteResponse', totalBytesRewritten: String(source.size), objectSize: String(source.size), done: true, resource: resource(object) });
    }

    if ((m = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(raw)) && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'DELETE')) {
      const bucketName = decodeURIComponent(m[1]!);
      const name = decodeURIComponent(m[2]!);
      const bucket = bucketOf(bucketName);
      if (req.method === 'DELETE') {
        authorize(account, 'storage.objects.delete', 'object');
        const object = bucket.get(name);
        if (!object) throw new HttpError(404, 'notFound', `No such object: ${bucketName}/${name}`);
        checkPreconditions(object, preconditionsOf(q));
        bucket.delete(name);
        // Open readers keep their file handle; the bytes go when the last one closes.
        await rm(object.file, { force: true });
        res.writeHead(204);
        res.end();
        return;
      }
      authorize(account, 'storage.objects.get', 'object');
      const object = bucket.get(name);
      if (!object || (q.has('generation') && q.get('generation') !== object.generation)) throw new HttpError(404, 'notFound', `No such object: ${bucketName}/${name}`);
      checkPreconditions(object, preconditionsOf(q));
      if (q.get('alt') === 'media') return download(req, res, object);
      if (q.has('alt') && q.get('alt') !== 'json') throw new HttpError(400, 'invalid', 'Invalid alt');
      return sendJson(res, 200, resource(object));
    }

    if ((m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(raw))) {
      const bucketName = decodeURIComponent(m[1]!);
      bucketOf(bucketName);
      const uploadType = q.get('uploadType');
      const uploadId = q.get('upload_id');
      if (uploadId !== null) return resumableRequest(req, res, uploadId);
      if (req.method !== 'POST') throw new HttpError(405, 'invalid', 'Method not allowed');
      authorize(account, 'storage.objects.create', 'object');
      const pre = preconditionsOf(q);
      if (uploadType === 'multipart') {
        const { metadata, media, mediaType } = parseMultipart(req.headers['content-type'], await readBody(req, 64 * 1024 * 1024));
        const name = checkName(q.get('name') ?? (typeof metadata['name'] === 'string' ? metadata['name'] : null));
        const crc = new Crc32c();
        crc.update(media);
        const md5 = createHash('md5').update(media).digest('base64');
        checkHashes(crc.base64(), md5, { ...metadataHashes(metadata), ...goog_hash(req.headers['x-goog-hash']) });
        const file = path.join(dir, `upload-${randomBytes(8).toString('hex')}`);
        const handle = await open(file, 'w');
        await handle.writeFile(media);
        await handle.close();
        const contentType = typeof metadata['contentType'] === 'string' ? metadata['contentType'] : mediaType ?? 'application/octet-stream';
        try {
          return sendJson(res, 200, resource(await commit(bucketName, name, file, media.length, crc.base64(), md5, contentType, pre)));
        } catch (error) {
          await rm(file, { force: true });
          throw error;
        }
      }
      if (uploadType === 'resumable') {
        const metadata = parseJson(await readBody(req, 1024 * 1024));
        const name = checkName(q.get('name') ?? (typeof metadata['name'] === 'string' ? metadata['name'] : null));
        // Preconditions are checked when the upload is finalized, not here: GCS opens the
        // session and answers the request that completes the upload with the 412.
        const id = randomBytes(24).toString('base64url');
        const file = path.join(dir, `session-${id}`);
        await (await open(file, 'w')).close();
        const hashes = metadataHashes(metadata);
        const contentType = req.headers['x-upload-content-type'] ?? (typeof metadata['contentType'] === 'string' ? metadata['contentType'] : 'application/octet-stream');
        sessions.set(id, {
          id,
          bucket: bucketName,
          name,
          contentType: String(contentType),
          ...(hashes.crc32c ? { expectedCrc32c: hashes.crc32c } : {}),
          ...(hashes.md5 ? { expectedMd5: hashes.md5 } : {}),
          preconditions: pre,
          account: account!.email,
          file,
          persisted: 0,
          crc: new Crc32c(),
          md5: createHash('md5'),
          state: 'open',
        });
        const location = `http://${req.headers.host}/upload/storage/v1/b/${encodeURIComponent(bucketName)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
        res.writeHead(200, { location, 'x-guploader-uploadid': id, 'content-length': '0' });
        res.end();
        return;
      }
      throw new HttpError(501, 'notImplemented', `uploadType=${uploadType} is not implemented by this test server`);
    }

    throw new HttpError(404, 'notFound', `Not Found (this test server does not implement ${req.method} ${raw})`);
  }

  /** A request to a resumable session URI: a chunk, a status query, or a cancel. */
  async function resumableRequest(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const session = sessions.get(id);
    if (!session || session.state === 'cancelled') throw new HttpError(404, 'notFound', 'No such upload session');
    if (req.method === 'DELETE') {
      if (session.state === 'done') throw new HttpError(400, 'invalid', 'The upload is already finalized');
      session.state = 'cancelled';
      await rm(session.file, { force: true });
      res.writeHead(499, { 'content-length': '0' });
      res.end();
      return;
    }
    if (req.method !== 'PUT') throw new HttpError(405, 'invalid', 'Method not allowed');
    const range = req.headers['content-range'] ?? '';
    const incomplete = () => {
      res.writeHead(308, { ...(session.persisted > 0 ? { range: `bytes=0-${session.persisted - 1}` } : {}), 'content-length': '0', 'x-http-status-code-override': '308' });
      res.end();
    };
    if (session.state === 'done') {
      for await (const _ of req) void _;
      return sendJson(res, 200, resource(session.result!));
    }
    if (session.state === 'busy') throw new HttpError(503, 'backendError', 'Another request is writing to this upload session');
    let m: RegExpExecArray | null;
    if ((m = /^bytes \*\/(\*|\d+)$/.exec(range))) {
      for await (const _ of req) if ((_ as Buffer).length) throw new HttpError(400, 'invalid', 'A status query or finalization without data has no body');
      if (m[1] === '*') return incomplete();
      if (Number(m[1]) !== session.persisted) throw new HttpError(400, 'invalid', `Content-Range total ${m[1]} differs from the ${session.persisted} bytes received`);
      return finalize(req, res, session);
    }
    m = /^bytes (\d+)-(\d+)\/(\*|\d+)$/.exec(range);
    if (!m) throw new HttpError(400, 'invalid', `Invalid Content-Range "${range}"`);
    const first = Number(m[1]);
    const last = Number(m[2]);
    const total = m[3] === '*' ? undefined : Number(m[3]);
    const length = last - first + 1;
    if (first !== session.persisted) throw new HttpError(400, 'invalid', `Content-Range starts at ${first}, but ${session.persisted} bytes were persisted`);
    if (last < first || (total !== undefined && last + 1 > total)) throw new HttpError(400, 'invalid', `Invalid Content-Range "${range}"`);
    const final = total !== undefined && last + 1 === total;
    if (!final && length % CHUNK_MULTIPLE !== 0) throw new HttpError(400, 'invalid', `A chunk that is not the last must be a multiple of 256 KiB (got ${length} bytes)`);
    if (req.headers['content-length'] !== undefined && Number(req.headers['content-length']) !== length) throw new HttpError(400, 'invalid', 'Content-Length differs from Content-Range');
    if (failChunks > 0) {
      failChunks--;
      for await (const _ of req) void _;
      throw new HttpError(503, 'backendError', 'Backend Error (a fault the test asked for)');
    }
    session.state = 'busy';
    // Hashes advance on copies, so a chunk cut short leaves the session as it was.
    const crc = session.crc.copy();
    const md5 = session.md5.copy();
    let received = 0;
    const handle = await open(session.file, 'r+');
    try {
      let position = session.persisted;
      for await (const chunk of req) {
        const data = chunk as Buffer;
        received += data.length;
        if (received > length) throw new HttpError(400, 'invalid', 'More bytes than Content-Range says');
        crc.update(data);
        md5.update(data);
        await handle.write(data, 0, data.length, position);
        position += data.length;
      }
    } catch (error) {
      session.state = 'open';
      await handle.close();
      await truncate(session.file, session.persisted);
      if (error instanceof HttpError) throw error;
      return; // the client went away: nothing of this chunk counts
    }
    await handle.close();
    if (!req.complete || received !== length) {
      session.state = 'open';
      await truncate(session.file, session.persisted);
      if (res.destroyed) return;
      throw new HttpError(400, 'invalid', `Got ${received} bytes, Content-Range says ${length}`);
    }
    session.persisted += length;
    session.crc = crc;
    session.md5 = md5;
    session.state = 'open';
    if (!final) return incomplete();
    return finalize(req, res, session);
  }

  async function finalize(req: IncomingMessage, res: ServerResponse, session: UploadSession): Promise<void> {
    let crc = session.crc.base64();
    let md5 = session.md5.copy().digest('base64');
    if (corruptUploads > 0 && (await stat(session.file)).size > 0) {
      corruptUploads--;
      await flipFirstByte(session.file);
      ({ crc, md5 } = await hashFile(session.file));
    }
    checkHashes(crc, md5, { ...(session.expectedCrc32c ? { crc32c: session.expectedCrc32c } : {}), ...(session.expectedMd5 ? { md5: session.expectedMd5 } : {}), ...goog_hash(req.headers['x-goog-hash']) });
    const size = (await stat(session.file)).size;
    const staged = `${session.file}.final`;
    await copyFile(session.file, staged);
    session.state = 'busy';
    try {
      session.result = await commit(session.bucket, session.name, staged, size, crc, md5, session.contentType, session.preconditions);
    } catch (error) {
      session.state = 'open';
      await rm(staged, { force: true });
      throw error;
    }
    session.state = 'done';
    await rm(session.file, { force: true });
    sendJson(res, 200, resource(session.result));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const e = error instanceof HttpError ? error : new HttpError(500, 'backendError', `test server error: ${(error as Error).message}`);
      // Drain what the client still sends, so it reads the answer.
      req.resume();
      if (e.status === 304) {
        res.writeHead(304);
        res.end();
        return;
      }
      sendJson(res, e.status, { error: { code: e.status, message: e.message, errors: [{ message: e.message, domain: 'global', reason: e.reason }] } });
    });
  });
  server.listen(0, '127.0.0.1', () => {
    port = (server.address() as { port: number }).port;
    process.send!({ port });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--serve') runServer();
