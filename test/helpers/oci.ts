// OCI test support: image layouts built here (multi-layer, multi-architecture), skopeo and
// podman runners, the CNCF distribution registry (Debian's docker-registry) as a real peer,
// a counting pass-through in front of it, and a Bearer-token HTTP client for the raw API.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ustarArchive } from '@registry-core/testing';
import { tempDir } from './registry-process.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** A tar archive of the given files (ustar, enough for any OCI tool). */
export function tar(files: Record<string, Buffer | string>): Buffer {
  return ustarArchive(files);
}

/** An image of one platform: config and layers, all as blobs, plus its manifest. */
export interface BuiltImage {
  manifest: Buffer;
  descriptor: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
}

/** The blobs of images (content by digest) built in memory; small by construction. */
export class BlobSet {
  readonly blobs = new Map<string, Buffer>();

  add(data: Buffer | string): { digest: string; size: number } {
    const bytes = Buffer.from(data);
    const digest = sha256(bytes);
    this.blobs.set(digest, bytes);
    return { digest, size: bytes.length };
  }

  /** A gzip'd tar layer of random content (unique per call). */
  layer(label: string, bytes = 2048): Descriptor {
    return { mediaType: OCI_LAYER, ...this.add(gzipSync(tar({ [`${label}.txt`]: `${label}\n`, [`${label}.bin`]: randomBytes(bytes) }))) };
  }

  image(options: { arch?: string; os?: string; layers?: number; label?: string; mediaType?: string; subject?: Descriptor; artifactType?: string; annotations?: Record<string, string> } = {}): BuiltImage {
    const arch = options.arch ?? 'amd64';
    const os = options.os ?? 'linux';
    const label = options.label ?? `${os}-${arch}`;
    const layers = Array.from({ length: options.layers ?? 2 }, (_, i) => this.layer(`${label}-layer${i}`));
    const configJson = JSON.stringify({ architecture: arch, os, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: { Labels: { built: label } } });
    const config = { mediaType: OCI_CONFIG, ...this.add(configJson) };
    const mediaType = options.mediaType ?? OCI_MANIFEST;
    const body: Record<string, unknown> = { schemaVersion: 2, mediaType, config, layers };
    if (options.artifactType) body['artifactType'] = options.artifactType;
    if (options.subject) body['subject'] = { mediaType: options.subject.mediaType, digest: options.subject.digest, size: options.subject.size };
    if (options.annotations) body['annotations'] = options.annotations;
    const manifest = Buffer.from(JSON.stringify(body));
    return { manifest, config, layers, descriptor: { mediaType, ...this.add(manifest), platform: { architecture: arch, os } } };
  }

  index(images: BuiltImage[], mediaType = OCI_INDEX): { body: Buffer; descriptor: Descriptor } {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: images.map((i) => i.descriptor) }));
    return { body, descriptor: { mediaType, ...this.add(body) } };
  }
}

/**
 * An OCI image layout in `dir` whose index.json names `tag`: a multi-architecture index of
 * linux/amd64 and linux/arm64 images of `layers` layers each.
 */
export function writeMultiArchLayout(dir: string, tag: string, layers = 3): { blobs: BlobSet; index: Descriptor; images: BuiltImage[] } {
  const blobs = new BlobSet();
  const images = [blobs.image({ arch: 'amd64', layers }), blobs.image({ arch: 'arm64', layers })];
  const index = blobs.index(images);
  writeLayout(dir, blobs, [{ ...index.descriptor, annotations: { 'org.opencontainers.image.ref.name': tag } }]);
  return { blobs, index: index.descriptor, images };
}

export function writeLayout(dir: string, blobs: BlobSet, refs: Descriptor[]): void {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [digest, bytes] of blobs.blobs) writeFileSync(path.join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: refs }));
}

/** Digest → size of every blob in a layout, each checked against its file name. */
export function layoutBlobs(dir: string): Map<string, number> {
  const found = new Map<string, number>();
  const folder = path.join(dir, 'blobs', 'sha256');
  for (const name of readdirSync(folder)) {
    const bytes = readFileSync(path.join(folder, name));
    if (sha256(bytes) !== `sha256:${name}`) throw new Error(`${name} in ${dir} does not match its digest`);
    found.set(`sha256:${name}`, bytes.length);
  }
  return found;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (error) => resolve({ code: -1, stdout, stderr: stderr + String(error) }));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** skopeo over plain HTTP, with its own (empty) auth file so nothing of the machine's leaks in. */
export function skopeo(args: string[]): Promise<Run> {
  const home = tempDir('skopeo-home');
  return run('skopeo', args, { env: { HOME: home, REGISTRY_AUTH_FILE: path.join(home, 'auth.json') } });
}

/** podman with a storage root of the test's own (vfs: works anywhere), over plain HTTP. */
export function podmanRunner(): (args: string[]) => Promise<Run> {
  const root = tempDir('podman');
  writeFileSync(path.join(root, 'auth.json'), '{"auths":{}}');
  const base = ['--root', path.join(root, 'root'), '--runroot', path.join(root, 'run'), '--storage-driver', 'vfs'];
  return (args) => run('podman', [...base, ...args], { env: { HOME: root, REGISTRY_AUTH_FILE: path.join(root, 'auth.json') } });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Distribution {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * The CNCF distribution registry (Debian's docker-registry), deletes enabled; no auth unless
 * `auth` gives its config block (YAML flow style, e.g. a token realm).
 */
export async function startDistribution(options: { auth?: string } = {}): Promise<Distribution> {
  const dir = tempDir('distribution');
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog: { level: warn }\nstorage:\n  filesystem: { rootdirectory: ${dir}/data }\n  delete: { enabled: true }\nhttp: { addr: 127.0.0.1:${port} }\n${options.auth ? `auth: ${options.auth}\n` : ''}`,
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok || r.status === 401, () => false);
      if (up) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('docker-registry did not start');
  };
  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    start,
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null) return;
      await new Promise((resolve) => {
        c.once('exit', resolve);
        c.kill('SIGTERM');
      });
    },
  };
}

/** A pass-through in front of an upstream that counts the requests it carries ("GET /v2/..."). */
export interface CountingProxy {
  readonly url: string;
  readonly requests: string[];
  /** Requests the pass-through could not carry to the target (answered 502), with the reason. */
  readonly failures: string[];
  count(pattern: RegExp): number;
  close(): Promise<void>;
}

export async function countingProxy(target: string): Promise<CountingProxy> {
  const requests: string[] = [];
  const failures: string[] = [];
  const to = new URL(target);
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    // A connection per request (no keep-alive pool): a pooled socket the target has just
    // closed as idle would fail here and be answered 502, which the registry rightly retries,
    // and a test counting upstream requests would see the retry as a second request.
    const forward = request(
      { hostname: to.hostname, port: to.port, path: req.url, method: req.method, headers: { ...req.headers, host: to.host }, agent: false },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    forward.on('error', (error) => {
      failures.push(`${req.method} ${req.url}: ${error.message}`);
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failures,
    count: (pattern) => requests.filter((r) => pattern.test(r)).length,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The raw distribution API with the Bearer flow done as clients do it. */
export class OciClient {
  /** The last token issued: tried first, replaced when a challenge asks for another scope. */
  private lastToken: string | undefined;

  constructor(
    /** The protocol root, ending in `/v2/`. */
    readonly root: string,
    private readonly credentials?: { username: string; password: string },
  ) {}

  /** A request to `root + rest`; on a Bearer challenge, fetch the token it names and retry once. */
  async request(rest: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
    const url = rest.startsWith('http') ? rest : new URL(rest, this.root).toString();
    const send = (token?: string) => fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    let response = await send(this.lastToken);
    const challenge = response.headers.get('www-authenticate');
    if (response.status === 401 && challenge?.startsWith('Bearer ')) {
      await response.arrayBuffer();
      this.lastToken = await this.token(challenge);
      response = await send(this.lastToken);
    }
    return response;
  }

  /** Ask for a token of several scopes at once (as docker does for a mount: push here, pull there). */
  async authorize(realm: string, scopes: string[]): Promise<string> {
    const url = new URL(realm);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (this.credentials) headers['authorization'] = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    const answer = await fetch(url, { headers });
    if (!answer.ok) throw new Error(`token endpoint answered ${answer.status}: ${await answer.text()}`);
    const { token } = (await answer.json()) as { token: string };
    this.lastToken = token;
    return token;
  }

  /** Fetch a token for a `WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge. */
  async token(challenge: string): Promise<string> {
    const params = Object.fromEntries([...challenge.slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const url = new URL(params['realm']!);
    if (params['service']) url.searchParams.set('service', params['service']);
    if (params['scope']) url.searchParams.set('scope', params['scope']);
    const headers: Record<string, string> = {};
    if (this.credentials) headers['authorization'] = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    const answer = await fetch(url, { headers });
    if (!answer.ok) throw new Error(`token endpoint answered ${answer.status}: ${await answer.text()}`);
    return ((await answer.json()) as { token: string }).token;
  }

  /** Push a blob in one request (POST ?digest=). */
  async pushBlob(image: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const response = await this.request(`${image}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: new Uint8Array(data), headers: { 'content-type': 'application/octet-stream' } });
    if (response.status !== 201) throw new Error(`blob push answered ${response.status}: ${await response.text()}`);
    return digest;
  }

  async pushManifest(image: string, reference: string, body: Buffer, mediaType: string): Promise<Response> {
    return this.request(`${image}/manifests/${reference}`, { method: 'PUT', body: new Uint8Array(body), headers: { 'content-type': mediaType } });
  }

  /** Push an image's blobs and manifest; resolves the manifest's answer. */
  async pushImage(image: string, reference: string, blobs: BlobSet, built: BuiltImage): Promise<Response> {
    for (const d of [built.config, ...built.layers]) await this.pushBlob(image, blobs.blobs.get(d.digest)!);
    return this.pushManifest(image, reference, built.manifest, built.descriptor.mediaType);
  }
}

/** The `errors[0].code` of an OCI error answer. */
export async function errorCode(response: Response): Promise<string | undefined> {
  const text = await response.text();
  try {
    return (JSON.parse(text) as { errors?: { code: string }[] }).errors?.[0]?.code;
  } catch {
    throw new Error(`not an OCI error body (${response.status}): ${text.slice(0, 200)}`);
  }
}
