// The Zig format driven by the real compiler (zig 0.11 from the npm package): a package is
// published with `registry-core zig publish`, then `zig build` fetches it by .url and .hash from
// the hosted repository and through the group; a tampered archive is refused by zig; the URL
// cache serves an archive after its origin (a server of this test) is stopped; zig 0.14 fetches a .zip and a .tar.xz package with
// the hash the registry reported, and the URL cache hashes both kinds too.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { storedZip } from '@registry-core/testing';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserAndToken, repoRoot, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const ZIG = path.join(repoRoot, 'test', 'node_modules', 'zig-0.11', 'zig');
const ZIG_014 = path.join(repoRoot, 'test', 'node_modules', 'zig-0.14', 'zig');

async function tarOf(top: string, files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, text] of Object.entries(files)) pack.entry({ name: `${top}/${name}`, mtime: new Date(0) }, text);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
const targz = async (top: string, files: Record<string, string>) => gzipSync(await tarOf(top, files));
const tarxz = async (top: string, files: Record<string, string>) => execFileSync('xz', ['--compress', '--stdout'], { input: await tarOf(top, files) });

const depFiles = (version: string, answer: number) => ({
  'build.zig.zon': `.{\n    .name = "rc_dep",\n    .version = "${version}",\n    .paths = .{ "build.zig", "build.zig.zon", "src" },\n}\n`,
  'build.zig': 'const std = @import("std");\npub fn build(b: *std.Build) void {\n    _ = b;\n}\n',
  'src/root.zig': `pub fn answer() u32 {\n    return ${answer};\n}\n`,
  'README.md': 'not in .paths: zig 0.12+ leave it out of the hash, zig 0.11 keeps it\n',
});

describe('Zig with zig 0.11 and 0.14', () => {
  let node: RunningRegistry;
  let origin: http.Server;
  let originUrl: string;
  let reported: { hash: string; tarballUrl: string } | undefined;
  let ownerToken = '';
  const served = new Map<string, Buffer>();
  /** Archives of published packages, for the URL cache: the hash zig printed for each. */
  const cachedHashes = new Map<string, { body: Buffer; hash: string }>();
  const work = tempDir('zig-e2e');
  const cache = path.join(work, 'global-cache');
  const app = path.join(work, 'app');

  /** `zig build` of a project depending on `rc_dep` at `url` with `hash`; its package cache emptied first so it fetches. */
  const build = (url: string, hash: string) => {
    mkdirSync(app, { recursive: true });
    writeFileSync(path.join(app, 'build.zig.zon'), `.{\n    .name = "app",\n    .version = "0.0.1",\n    .dependencies = .{\n        .rc_dep = .{\n            .url = "${url}",\n            .hash = "${hash}",\n        },\n    },\n}\n`);
    writeFileSync(path.join(app, 'build.zig'), 'const std = @import("std");\npub fn build(b: *std.Build) void {\n    _ = b.dependency("rc_dep", .{});\n}\n');
    rmSync(path.join(cache, 'p'), { recursive: true, force: true });
    return new Promise<{ code: number; output: string }>((resolve) => {
      execFile(ZIG, ['build', '--global-cache-dir', cache], { cwd: app, env: { ...process.env, HOME: work }, timeout: 180_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }));
    });
  };

  beforeAll(async () => {
    origin = http.createServer((req, res) => {
      if (req.url?.startsWith('/redirect/')) return void res.writeHead(302, { location: `http://192.0.2.1/${req.url.slice('/redirect/'.length)}` }).end();
      const body = served.get(req.url ?? '');
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    node = await startRegistry(`repositories:
  zig-local: { format: zig, type: hosted }
  zig-proxy: { format: zig, type: proxy, upstream: "${originUrl}/", packages: false, cache: { allowedOrigins: ["http://127.0.0.2:${new URL(originUrl).port}"] } }
  zig: { format: zig, type: group, members: [zig-local, zig-proxy] }
`);
  });

  afterAll(async () => {
    await node?.stop();
    origin?.closeAllConnections();
    await new Promise<void>((resolve) => origin?.close(() => resolve()));
  });

  it('publishes with registry-core zig publish; zig build fetches it from hosted and group with the hash the registry reported; a tampered archive is refused', async () => {
    const token = await createUserAndToken(node.configFile, 'zigdev');
    ownerToken = token;
    const dir = path.join(work, 'rc_dep');
    for (const [name, text] of Object.entries(depFiles('1.0.0', 42))) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    }
    const published = await runCli(['zig', 'publish', dir, '--registry', node.url, '--repository', 'zig-local', '--token', token, '--json']);
    expect(published.code, published.stderr).toBe(0);
    const answer = JSON.parse(published.stdout) as { hash: string; tarballUrl: string; fetch: string; dependency: string; hashes: Record<string, string> };
    expect(answer.hash).toMatch(/^1220[0-9a-f]{64}$/);
    expect(answer.fetch).toBe(`zig fetch --save ${answer.tarballUrl}`);
    expect(answer.dependency).toContain(`.hash = "${answer.hash}"`);
    reported = answer;

    const hosted = await build(answer.tarballUrl, answer.hash);
    expect(hosted.output).toBe('');
    expect(hosted.code).toBe(0);
    const grouped = await build(`${node.url}/zig/packages/rc_dep/1.0.0/tarball`, answer.hash);
    expect(grouped.code, grouped.output).toBe(0);

    // The registry's hash is zig's: a wrong one makes zig print the one it computed.
    const wrong = await build(answer.tarballUrl, `1220${'0'.repeat(64)}`);
    expect(wrong.code).not.toBe(0);
    expect(wrong.output).toContain(`found: ${answer.hash}`);

    // The same archive with one byte changed, at another URL: zig refuses it.
    served.set('/tampered.tar.gz', await targz('rc_dep-1.0.0', depFiles('1.0.0', 43)));
    const tampered = await build(`${originUrl}/tampered.tar.gz`, answer.hash);
    expect(tampered.code).not.toBe(0);
    expect(tampered.output).toContain('hash mismatch');

    // Lookup by hash through the group: the package, and a redirect to its archive.
    const lookup = await fetch(`${node.url}/zig/hash/${answer.hash}`, { redirect: 'manual' });
    expect(lookup.status).toBe(302);
    expect(lookup.headers.get('location')).toBe(`${node.url}/zig/packages/rc_dep/1.0.0/tarball`);

    // The package's document and search, through the group.
    const doc = (await (await fetch(`${node.url}/zig/packages/rc_dep`)).json()) as { latest: string; versions: { version: string; hash: string; tarballUrl: string }[] };
    expect(doc.latest).toBe('1.0.0');
    expect(doc.versions).toMatchObject([{ version: '1.0.0', hash: answer.hash, tarballUrl: `${node.url}/zig/packages/rc_dep/1.0.0/tarball` }]);
    const found = (await (await fetch(`${node.url}/zig/search?q=rc_d`)).json()) as { results: { name: string; version: string; hash: string }[] };
    expect(found.results).toContainEqual(expect.objectContaining({ name: 'rc_dep', version: '1.0.0', hash: answer.hash }));

    // A version is immutable (and --registry may be the repository's own URL). A client-side
    // command opens no registry where it runs: no data folder appears in its working folder.
    const elsewhere = path.join(work, 'elsewhere');
    mkdirSync(elsewhere);
    const again = await runCli(['zig', 'publish', dir, '--registry', `${node.url}/zig-local/`, '--token', token], { cwd: elsewhere });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('409');
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('zig 0.14 `zig fetch --save` writes the hash the registry reported, through the group', async () => {
    expect(reported).toBeDefined();
    const project = path.join(work, 'app-014');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'build.zig.zon'), '.{\n    .name = "app",\n    .version = "0.0.1",\n    .paths = .{""},\n}\n');
    writeFileSync(path.join(project, 'build.zig'), 'const std = @import("std");\npub fn build(b: *std.Build) void {\n    _ = b;\n}\n');
    const url = `${node.url}/zig/packages/rc_dep/1.0.0/tarball`;
    const fetched = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(ZIG_014, ['fetch', '--global-cache-dir', path.join(work, 'global-cache-014'), '--save', url], { cwd: project, env: { ...process.env, HOME: work }, timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? 1 : 0, output: `${stdout}${stderr}` }));
    });
    expect(fetched.code, fetched.output).toBe(0);
    const zon = readFileSync(path.join(project, 'build.zig.zon'), 'utf8');
    expect(zon).toContain(`.url = "${url}"`);
    expect(zon).toContain(`.hash = "${reported!.hash}"`);

    // A .zip package (zig 0.13 and later read zips) and a .tar.xz one made by Debian's xz (zig 0.11 and later), published
    // with a plain multipart POST; zig 0.14 computes the hash the registry reported for each (served as application/zip, application/x-xz).
    const archives = [
      { archive: 'zip', version: '1.1.0', body: storedZip(Object.entries(depFiles('1.1.0', 11)).map(([name, text]) => [`rc_dep-1.1.0/${name}`, Buffer.from(text)] as const)) },
      { archive: 'tar.xz', version: '1.2.0', body: await tarxz('rc_dep-1.2.0', depFiles('1.2.0', 12)) },
    ];
    for (const { archive, version, body } of archives) {
      const form = new FormData();
      form.set('tarball', new Blob([body]), `rc_dep-${version}.${archive}`);
      form.set('manifest', depFiles(version, 0)['build.zig.zon']);
      const answer = await fetch(`${node.url}/zig/publish`, { method: 'POST', body: form, headers: { authorization: `Bearer ${ownerToken}` } });
      const published = (await answer.json()) as { hash: string; archive: string; tarballUrl: string };
      expect(answer.status, JSON.stringify(published)).toBe(201);
      expect(published.archive).toBe(archive);
      const zigFetch = await new Promise<{ code: number; output: string }>((resolve) => {
        execFile(ZIG_014, ['fetch', '--global-cache-dir', path.join(work, 'global-cache-014'), published.tarballUrl], { cwd: project, env: { ...process.env, HOME: work }, timeout: 120_000 }, (error, stdout, stderr) =>
          resolve({ code: error ? 1 : 0, output: `${stdout}${stderr}` }));
      });
      expect(zigFetch.code, zigFetch.output).toBe(0);
      expect(zigFetch.output.trim()).toBe(published.hash);
      cachedHashes.set(`/archive/rc_dep-${version}.${archive}`, { body, hash: published.hash });
    }
  });

  it('the URL cache refuses private addresses off the upstream and redirects elsewhere with a 4xx, storing nothing', async () => {
    served.set('/private.tar.gz', await targz('p-1.0.0', depFiles('1.0.0', 1)));
    const ask = (url: string) => fetch(`${node.url}/zig-proxy/fetch?url=${encodeURIComponent(url)}`);
    for (let i = 0; i < 2; i++) {
      // An allowed origin, but a loopback address that is not the configured upstream's host.
      const privateAddress = await ask(`http://127.0.0.2:${new URL(originUrl).port}/private.tar.gz`);
      expect(privateAddress.status, await privateAddress.text()).toBe(403);
      // The origin redirects off the allowed origins (to 192.0.2.1, never asked).
      const redirected = await ask(`${originUrl}/redirect/elsewhere.tar.gz`);
      expect(redirected.status, await redirected.text()).toBe(403);
    }
  });

  it('the URL cache fetches an archive once, with the hash zig computes, and serves it after the origin is gone', async () => {
    served.set('/archive/rc_dep-2.0.0.tar.gz', await targz('rc_dep-2.0.0', depFiles('2.0.0', 7)));
    const cachedUrl = `${node.url}/zig-proxy/url/${originUrl.replace('://', '/')}/archive/rc_dep-2.0.0.tar.gz`;
    // zig computes the hash of what the cache serves (and prints it on a mismatch).
    const first = await build(cachedUrl, `1220${'0'.repeat(64)}`);
    const zigHash = /found: (1220[0-9a-f]{64})/.exec(first.output)?.[1];
    expect(zigHash, first.output).toBeDefined();
    const head = await fetch(cachedUrl);
    await head.arrayBuffer();
    // README.md is outside .paths: zig 0.11 hashes it, zig 0.12 and later do not.
    expect(head.headers.get('x-zig-hash-0-11')).toBe(zigHash);
    expect(head.headers.get('x-zig-hash')).toMatch(/^1220[0-9a-f]{64}$/);
    expect(head.headers.get('x-zig-hash')).not.toBe(zigHash);
    // A request that carries another hash is refused and changes nothing.
    const refused = await fetch(`${node.url}/zig-proxy/fetch?url=${encodeURIComponent(`${originUrl}/archive/rc_dep-2.0.0.tar.gz`)}&hash=1220${'1'.repeat(64)}`);
    expect(refused.status).toBe(502);
    // A .tar.xz and a .zip are hashed too (the same files as the ones published above: the same hash as zig's).
    expect(cachedHashes.size).toBe(2);
    for (const [file, { body, hash }] of cachedHashes) {
      served.set(file, body);
      const cached = await fetch(`${node.url}/zig-proxy/fetch?url=${encodeURIComponent(`${originUrl}${file}`)}&hash=${hash}`);
      expect(Buffer.from(await cached.arrayBuffer())).toEqual(body);
      expect(cached.headers.get('x-zig-hash')).toBe(hash);
    }
    // Origins not allowed are refused.
    const elsewhere = await fetch(`${node.url}/zig-proxy/fetch?url=${encodeURIComponent('http://192.0.2.1/x.tar.gz')}`);
    expect(elsewhere.status).toBe(403);

    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
    // The origin is gone: zig 0.11 (its hash) and zig 0.14 (its own, .paths honoured) get the archive from the cache.
    // zig 0.11 stops at the hash check when it is wrong, so a wrong hash proves the fetch without compiling a build runner.
    const viaProxy = await build(cachedUrl, `1220${'2'.repeat(64)}`);
    expect(viaProxy.output, viaProxy.output).toContain(`found: ${zigHash}`);
    const groupUrl = `${node.url}/zig/fetch?url=${encodeURIComponent(`${originUrl}/archive/rc_dep-2.0.0.tar.gz`)}&hash=${head.headers.get('x-zig-hash')}`;
    const viaGroup = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(ZIG_014, ['fetch', '--global-cache-dir', path.join(work, 'global-cache-014b'), groupUrl], { cwd: work, env: { ...process.env, HOME: work }, timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? 1 : 0, output: `${stdout}${stderr}` }));
    });
    expect(viaGroup.code, viaGroup.output).toBe(0);
    expect(viaGroup.output.trim()).toBe(head.headers.get('x-zig-hash'));
  });
});
