import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { storedZip } from '@registry-core/testing';
import { tempDir } from './registry-process.js';

/** Debian's go command (`apt-get install golang-go`), whatever its version. */
export const GO = '/usr/bin/go';

/** A module zip as the go command builds one: every file under `<module>@<version>/`. */
export function moduleZip(module: string, version: string, files: Readonly<Record<string, string>>): Buffer {
  return storedZip(Object.entries(files).map(([name, text]) => [`${module}@${version}/${name}`, Buffer.from(text)]));
}

/**
 * A go command environment of its own (GOPATH, module and build caches in a fresh folder,
 * no user go env file) reading modules from `goproxy` only; the modules are not in the public
 * checksum database, so GONOSUMDB covers them.
 */
export function goEnvironment(goproxy: string, options: { home?: string; noSumDb?: string } = {}): NodeJS.ProcessEnv {
  const home = options.home ?? tempDir('go-home');
  return {
    PATH: process.env['PATH'],
    HOME: home,
    GOPATH: path.join(home, 'gopath'),
    GOMODCACHE: path.join(home, 'gopath', 'pkg', 'mod'),
    GOCACHE: path.join(home, 'cache'),
    GOENV: 'off',
    GOFLAGS: '-modcacherw',
    GOPROXY: goproxy,
    GONOSUMDB: options.noSumDb ?? 'example.com',
    GOTOOLCHAIN: 'local',
    GO111MODULE: 'on',
    CGO_ENABLED: '0',
  };
}

/** Run the go command; resolves its exit code and output (never rejects). */
export function runGo(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(GO, [...args], { cwd, env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

/** Write a main module (go.mod at `go 1.19`, two-part, as Debian 12's go requires) into a fresh folder. */
export function writeMainModule(module: string, files: Readonly<Record<string, string>>): string {
  const dir = tempDir('go-app');
  writeFileSync(path.join(dir, 'go.mod'), `module ${module}\n\ngo 1.19\n`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** A checksum database the test serves: signed with a key of its own, one record per module version. */
export interface FakeSumdb {
  /** Base URL to configure a proxy with (the database answers under `sumdb/<name>/`). */
  readonly url: string;
  /** The GOSUMDB value: `<name>+<key hash>+<public key>`. */
  readonly verifierKey: string;
  /** Paths asked, in order. */
  readonly requests: string[];
  stop(): Promise<void>;
}

/**
 * A tiny Go checksum database (golang.org/x/mod/sumdb's wire format: records, a signed tree
 * head as a note signed with Ed25519, hash tiles of height 8) over `records`, each the two
 * go.sum lines of one module version, e.g. as a hosted publish answers them.
 */
export async function startFakeSumdb(name: string, records: readonly string[]): Promise<FakeSumdb> {
  const { createHash, generateKeyPairSync, sign } = await import('node:crypto');
  const { createServer } = await import('node:http');
  const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const rawPublic = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const keyBytes = Buffer.concat([Buffer.from([1]), rawPublic]);
  const keyHash = sha(Buffer.from(`${name}\n`), keyBytes).subarray(0, 4);
  const verifierKey = `${name}+${keyHash.toString('hex')}+${keyBytes.toString('base64')}`;
  const leaves = records.map((text) => sha(Buffer.from([0]), Buffer.from(text)));
  // RFC 6962's Merkle tree hash (tlog.TreeHash).
  const treeHash = (hashes: Buffer[]): Buffer => {
    if (hashes.length === 1) return hashes[0]!;
    let split = 1;
    while (split * 2 < hashes.length) split *= 2;
    return sha(Buffer.from([1]), treeHash(hashes.slice(0, split)), treeHash(hashes.slice(split)));
  };
  const treeText = `go.sum database tree\n${records.length}\n${treeHash(leaves).toString('base64')}\n`;
  const signature = sign(null, Buffer.from(treeText), privateKey);
  const signedTree = `${treeText}\n\u2014 ${name} ${Buffer.concat([keyHash, signature]).toString('base64')}\n`;
  const escape = (s: string) => s.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
  const byKey = new Map(records.map((text, id) => {
    const [module, version] = text.split(' ');
    return [`${escape(module!)}@${escape(version!)}`, `${id}\n${text}\n${signedTree}`];
  }));
  const requests: string[] = [];
  const base = `/sumdb/${name}/`;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const rest = path.startsWith(base) ? path.slice(base.length) : undefined;
    const answer = (status: number, body: string | Buffer) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    if (rest === 'supported') return answer(200, '');
    if (rest === 'latest') return answer(200, signedTree);
    if (rest?.startsWith('lookup/') && byKey.has(rest.slice('lookup/'.length))) return answer(200, byKey.get(rest.slice('lookup/'.length))!);
    // Level 0 of a tree of at most 256 records: one (partial) tile holding every leaf hash.
    if (rest === `tile/8/0/000${leaves.length === 256 ? '' : `.p/${leaves.length}`}`) return answer(200, Buffer.concat(leaves));
    answer(404, 'not found\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, verifierKey, requests, stop: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }) };
}
