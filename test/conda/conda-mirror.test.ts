// `registry-core conda mirror` against a fixture channel (a small HTTP server in the test, the
// only way to have a file fail twice and to list a wrong digest), into a hosted channel of a
// running registry-core; then rattler solves against what was mirrored. One run is killed in
// the middle (a file never answers), and the next skips what the first had mirrored.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { simpleSolve } from '@conda-org/rattler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCondaPackage, type BuiltPackage } from '../../plugins/conda/src/testing/package-builder.js';
import { cliBin, createUserAndToken, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

interface Summary {
  total: number;
  mirrored: number;
  skipped: number;
  failed: number;
  bytes: number;
  retried: number;
  failures: { source: string; reason: string; attempts: number }[];
}

describe('registry-core conda mirror', () => {
  let target: RunningRegistry;
  let token: string;
  let fixture: http.Server;
  let source: string;
  const sockets = new Set<Socket>();
  const pkgs: Record<string, BuiltPackage> = {};
  /** GETs per path the fixture answered or held. */
  const requests = new Map<string, number>();
  let holdHang = true;
  let hangAsked: () => void;
  const hangRequested = new Promise<void>((resolve) => (hangAsked = resolve));
  const dir = tempDir('conda-mirror');

  beforeAll(async () => {
    const specs = {
      lib10: { name: 'rc-lib', version: '1.0', format: 'tar.bz2' as const },
      lib11: { name: 'rc-lib', version: '1.1' },
      lib20: { name: 'rc-lib', version: '2.0' },
      flaky: { name: 'rc-flaky', version: '1.0' },
      bad: { name: 'rc-bad', version: '1.0' },
      hang: { name: 'rc-hang', version: '1.0' },
      other: { name: 'rc-other', version: '1.0' },
      app: { name: 'rc-app', version: '0.3.0', subdir: 'linux-64', depends: ['rc-lib >=1.0,<2', 'rc-flaky'] },
    };
    for (const [key, spec] of Object.entries(specs)) pkgs[key] = await buildCondaPackage(dir, spec);
    // The fixture channel's repodata: every package but rc-other, rc-bad with a sha256 its bytes do not have.
    const repodata = (subdir: string) => {
      const doc = { info: { subdir }, packages: {} as Record<string, unknown>, 'packages.conda': {} as Record<string, unknown>, repodata_version: 1 };
      for (const [key, p] of Object.entries(pkgs)) {
        if (p.subdir !== subdir || key === 'other' || !(key in specs)) continue;
        const spec = specs[key as keyof typeof specs];
        const sha256 = key === 'bad' ? createHash('sha256').update('not these bytes').digest('hex') : p.sha256;
        const record = { name: spec.name, version: spec.version, build: p.filename.split('-').at(-1)!.replace(/\.(conda|tar\.bz2)$/, ''), build_number: 0, depends: 'depends' in spec ? spec.depends : [], subdir, md5: key === 'bad' ? undefined : p.md5, sha256, size: p.size };
        doc[p.filename.endsWith('.conda') ? 'packages.conda' : 'packages'][p.filename] = record;
      }
      return JSON.stringify(doc);
    };
    fixture = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://fixture');
      requests.set(url.pathname, (requests.get(url.pathname) ?? 0) + 1);
      const [, subdir, file] = url.pathname.split('/');
      if (file === 'repodata.json') return void res.writeHead(200, { 'content-type': 'application/json' }).end(repodata(subdir!));
      const pkg = Object.entries(pkgs).find(([key, p]) => key in specs && p.subdir === subdir && p.filename === file);
      if (!pkg) return void res.writeHead(404).end('not here');
      if (pkg[0] === 'flaky' && requests.get(url.pathname)! <= 2) return void res.writeHead(503).end('busy');
      if (pkg[0] === 'hang' && holdHang) {
        hangAsked();
        return; // never answered: the run is killed meanwhile
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(pkg[1].size) });
      createReadStream(pkg[1].path).pipe(res);
    });
    fixture.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => fixture.listen(0, '127.0.0.1', resolve));
    source = `http://127.0.0.1:${(fixture.address() as AddressInfo).port}/`;
    // `forge` plays an upstream channel that is a registry-core too.
    target = await startRegistry(`repositories:\n  mirror: { format: conda, type: hosted }\n  forge: { format: conda, type: hosted }\n`);
    token = await createUserAndToken(target.configFile, 'mirrorer');
    pkgs['extra'] = await buildCondaPackage(dir, { name: 'rc-extra', version: '3.1', format: 'tar.bz2' });
    const seeded = await runCli(['conda', 'upload', pkgs['extra']!.path, '--repository', 'forge', '--registry', target.url, '--token', token]);
    expect(seeded.code, seeded.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await target?.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => fixture?.close(resolve));
  });

  const host = () => ['--repository', 'mirror', '--registry', target.url, '--token', token];
  const url = (key: string) => `${source}${pkgs[key]!.subdir}/${pkgs[key]!.filename}`;

  it('mirrors URLs and channel specs with retries, refuses wrong hashes, resumes after a kill; rattler solves against the result', async () => {
    // Run 1, one file at a time from a list: rc-lib 1.0 and 1.1 are mirrored, then rc-hang never answers and the run is killed.
    const list1 = path.join(dir, 'first.txt');
    writeFileSync(list1, `# first batch\n@EXPLICIT\n${url('lib10')}\n${url('lib11')}\n\n${url('hang')}\n`);
    // Its temporary folder (left behind by the kill) under the test's own.
    const tmp = path.join(dir, 'tmp');
    mkdirSync(tmp);
    const first = spawn(process.execPath, [cliBin, 'conda', 'mirror', '--from-file', list1, '--concurrency', '1', ...host()], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    let firstOutput = '';
    first.stdout.on('data', (d: Buffer) => (firstOutput += d.toString()));
    first.stderr.on('data', (d: Buffer) => (firstOutput += d.toString()));
    const exited = new Promise((resolve) => first.on('exit', resolve));
    await Promise.race([hangRequested, exited]);
    expect(first.exitCode, firstOutput).toBeNull();
    first.kill('SIGKILL');
    await exited;
    const afterKill = (await (await fetch(`${target.url}/mirror/noarch/repodata.json`)).json()) as { packages: object; 'packages.conda': object };
    expect([...Object.keys(afterKill.packages), ...Object.keys(afterKill['packages.conda'])].sort()).toEqual([pkgs['lib10']!.filename, pkgs['lib11']!.filename].sort());

    // Run 2: specs against the channel for two subdirs, plus a URL with a hash its bytes do not have.
    holdHang = false;
    const list2 = path.join(dir, 'second.txt');
    const wrong = createHash('sha256').update('something else').digest('hex');
    writeFileSync(list2, `${url('other')}#sha256=${wrong}\n`);
    const second = await runCli(['conda', 'mirror', '--channel', source, '--subdir', 'linux-64,noarch', 'rc-lib >=1.0,<2', 'rc-app', 'rc-flaky', 'rc-bad', 'rc-hang 1.0 pyh*', '--from-file', list2, '--retry-delay', '0.05', ...host()]);
    expect(second.code, second.stdout + second.stderr).toBe(1);
    const summary = JSON.parse(second.stdout) as Summary;
    console.log(`mirror summary (second run):\n${second.stdout}`);
    expect(summary).toMatchObject({ total: 7, mirrored: 3, skipped: 2, failed: 2, retried: 2, bytes: pkgs['app']!.size + pkgs['flaky']!.size + pkgs['hang']!.size });
    expect(summary.failures.sort((a, b) => a.source.localeCompare(b.source))).toEqual([
      { source: url('bad'), reason: expect.stringMatching(/^sha256 mismatch: .*noarch\/repodata\.json says /), attempts: 1 },
      { source: url('other'), reason: `sha256 mismatch: the hash given with the URL says ${wrong}, the download is ${pkgs['other']!.sha256}`, attempts: 1 },
    ]);
    expect(second.stderr).toMatch(/2 not mirrored/);
    // The flaky file: 503, 503, then 200; a wrong digest is not retried; rc-lib 2.0 matched no spec.
    expect(requests.get(`/noarch/${pkgs['flaky']!.filename}`)).toBe(3);
    expect(requests.get(`/noarch/${pkgs['bad']!.filename}`)).toBe(1);
    expect(requests.get(`/noarch/${pkgs['lib20']!.filename}`)).toBeUndefined();
    expect(requests.get(`/noarch/${pkgs['lib10']!.filename}`)).toBe(1);

    const noarch = (await (await fetch(`${target.url}/mirror/noarch/repodata.json`)).json()) as { packages: Record<string, { sha256: string }>; 'packages.conda': Record<string, { sha256: string }> };
    const files = { ...noarch.packages, ...noarch['packages.conda'] };
    expect(Object.keys(files).sort()).toEqual(['flaky', 'hang', 'lib10', 'lib11'].map((k) => pkgs[k]!.filename).sort());
    for (const key of ['flaky', 'hang', 'lib10', 'lib11']) expect(files[pkgs[key]!.filename]!.sha256).toBe(pkgs[key]!.sha256);

    // From a registry-core channel: its repodata is what the mirror reads.
    const third = await runCli(['conda', 'mirror', '--channel', `${target.url}/forge/`, '--subdir', 'noarch', 'rc-extra >=3', ...host()]);
    expect(third.code, third.stderr).toBe(0);
    expect(JSON.parse(third.stdout)).toMatchObject({ total: 1, mirrored: 1, skipped: 0, failed: 0, bytes: pkgs['extra']!.size });

    const solved = await simpleSolve(['rc-app', 'rc-extra'], [`${target.url}/mirror/`], ['linux-64', 'noarch'], []);
    const got = solved.map((p) => ({ name: p.packageName, version: p.version, url: p.url, sha256: p.sha256 })).sort((a, b) => a.name.localeCompare(b.name));
    for (const p of solved) p.free();
    console.log(`rattler solve against the mirror:\n${got.map((p) => `  ${p.name} ${p.version}  ${p.url}`).join('\n')}`);
    expect(got.map((p) => `${p.name}=${p.version}`)).toEqual(['rc-app=0.3.0', 'rc-extra=3.1', 'rc-flaky=1.0', 'rc-lib=1.1']);
    for (const p of got) {
      const answer = await fetch(p.url);
      expect(createHash('sha256').update(Buffer.from(await answer.arrayBuffer())).digest('hex'), p.url).toBe(p.sha256);
    }
  }, 120_000);
});
