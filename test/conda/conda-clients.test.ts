// The conda format driven by a real conda client: rattler (the solver and repodata reader
// behind pixi and the mamba tooling, as WebAssembly from @conda-org/rattler) solves
// environments against a hosted channel, a proxy of another registry-core's channel, and a
// group over both, then every solved URL is downloaded and checked against its sha256.
// Packages are built here (.conda and .tar.bz2) and uploaded with `registry-core conda upload`.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { openAsBlob, writeFileSync } from 'node:fs';
import path from 'node:path';
import { simpleSolve } from '@conda-org/rattler';
import { decompress as zstdDecompress } from 'fzstd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchPackageView } from '@registry-core/testing';
import { buildCondaPackage, type BuiltPackage } from '../../plugins/conda/src/testing/package-builder.js';
import { createUserAndToken, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

type Repodata = { info: { subdir: string }; packages: Record<string, { name: string; version: string; sha256: string; md5: string; size: number }>; 'packages.conda': Record<string, { name: string; version: string; sha256: string; size: number }>; removed: string[]; repodata_version: number };

async function solve(channel: string, specs: string[]) {
  const solved = await simpleSolve(specs, [channel], ['linux-64', 'noarch'], []);
  const out = solved.map((p) => ({ name: p.packageName, version: p.version, url: p.url, sha256: p.sha256 }));
  for (const p of solved) p.free();
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Each solved URL downloaded: its bytes must hash to what the repodata said. */
async function downloadAll(solved: readonly { url: string; sha256?: string | undefined }[]): Promise<string[]> {
  const members: string[] = [];
  for (const p of solved) {
    const answer = await fetch(p.url);
    expect(answer.status, p.url).toBe(200);
    members.push(answer.headers.get('x-registry-member') ?? '');
    expect(createHash('sha256').update(Buffer.from(await answer.arrayBuffer())).digest('hex'), p.url).toBe(p.sha256);
  }
  return members;
}

/** Each of `compressed` decompressed by Python's bz2 module (what conda's own code used), in one python3 run. */
function pythonBz2(compressed: readonly Buffer[]): Buffer[] {
  const script = 'import base64, bz2, json, sys; print(json.dumps([base64.b64encode(bz2.decompress(base64.b64decode(b))).decode() for b in json.load(sys.stdin)]))';
  const out = execFileSync('python3', ['-c', script], { input: JSON.stringify(compressed.map((b) => b.toString('base64'))) });
  return (JSON.parse(out.toString()) as string[]).map((b) => Buffer.from(b, 'base64'));
}

const upload = (registry: RunningRegistry, repository: string, token: string, files: string[]) => runCli(['conda', 'upload', ...files, '--repository', repository, '--token', token, '--registry', registry.url]);

describe('conda with rattler', () => {
  let upstream: RunningRegistry;
  let node: RunningRegistry;
  let token: string;
  const built: Record<string, BuiltPackage> = {};

  beforeAll(async () => {
    const dir = tempDir('rc-conda-pkgs-');
    upstream = await startRegistry(`repositories:\n  forge: { format: conda, type: hosted }\n`);
    const seedToken = await createUserAndToken(upstream.configFile, 'seed');
    built['upstreamLib'] = await buildCondaPackage(dir, { name: 'rc-upstream-lib', version: '2.0', format: 'conda' });
    // The upstream also has a build of a name the local channel owns: never served through the group.
    built['shadow'] = await buildCondaPackage(dir, { name: 'rc-lib', version: '9.0', build: 'pyh_9', format: 'conda' });
    const seeded = await upload(upstream, 'forge', seedToken, [built['upstreamLib']!.path, built['shadow']!.path]);
    expect(seeded.code, seeded.stdout + seeded.stderr).toBe(0);
    node = await startRegistry(`repositories:
  conda-local: { format: conda, type: hosted, maxUploadSize: 256kb }
  conda-proxy: { format: conda, type: proxy, upstream: "${upstream.url}/forge/" }
  conda: { format: conda, type: group, members: [conda-local, conda-proxy], routing: { "rc-lib": [conda-local] } }
`);
    token = await createUserAndToken(node.configFile, 'builder');
    built['lib10'] = await buildCondaPackage(dir, { name: 'rc-lib', version: '1.0', format: 'tar.bz2' });
    built['lib11'] = await buildCondaPackage(dir, { name: 'rc-lib', version: '1.1', format: 'conda' });
    built['app'] = await buildCondaPackage(dir, { name: 'rc-app', version: '0.3.0', subdir: 'linux-64', depends: ['rc-lib >=1.0', 'rc-upstream-lib >=2'], format: 'conda' });
  }, 180_000);

  /** An upload as curl -F file=@... sends it. */
  const post = async (file: string, fields: Record<string, string> = {}) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.set(k, v);
    form.set('file', await openAsBlob(file), path.basename(file));
    const answer = await fetch(`${node.url}/conda-local/-/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
    return { status: answer.status, text: await answer.text() };
  };

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
  });

  it('registry-core conda upload puts .conda and .tar.bz2 packages in their subdirs, with digests from the bytes', async () => {
    // The last file twice: the second is refused (a file name is never replaced), and the command says so and fails;
    // a file that is not there is reported the same way, and the files after it still go.
    const missing = path.join(path.dirname(built['app']!.path), 'rc-missing-1.0-0.conda');
    const done = await upload(node, 'conda-local', token, [built['lib10']!.path, missing, built['lib11']!.path, built['app']!.path, built['app']!.path]);
    expect(done.code, done.stdout + done.stderr).toBe(1);
    expect(done.stderr).toMatch(new RegExp(`^${built['app']!.filename.replace(/\./g, '\\.')}: 409 .*already exists`, 'm'));
    expect(done.stderr).toMatch(/^rc-missing-1\.0-0\.conda: .*ENOENT/m);
    expect(done.stderr).toContain('2 of 5 files not uploaded');
    expect(done.stdout).toContain(`uploaded noarch/${built['lib10']!.filename}`);
    expect(done.stdout).toContain(`uploaded linux-64/${built['app']!.filename}`);
    const noarch = (await (await fetch(`${node.url}/conda-local/noarch/repodata.json`)).json()) as Repodata;
    expect(noarch.info.subdir).toBe('noarch');
    expect(noarch.repodata_version).toBe(1);
    expect(noarch.packages[built['lib10']!.filename]).toMatchObject({ name: 'rc-lib', version: '1.0', sha256: built['lib10']!.sha256, md5: built['lib10']!.md5, size: built['lib10']!.size, noarch: 'generic', subdir: 'noarch' });
    expect(noarch['packages.conda'][built['lib11']!.filename]).toMatchObject({ sha256: built['lib11']!.sha256, size: built['lib11']!.size });
    const linux = (await (await fetch(`${node.url}/conda-local/linux-64/repodata.json`)).json()) as Repodata;
    expect(linux['packages.conda'][built['app']!.filename]).toMatchObject({ depends: ['rc-lib >=1.0', 'rc-upstream-lib >=2'], subdir: 'linux-64' });
    // A subdir with nothing in it is an empty, valid channel subdir.
    expect(await (await fetch(`${node.url}/conda-local/osx-arm64/repodata.json`)).json()).toEqual({ info: { subdir: 'osx-arm64' }, packages: {}, 'packages.conda': {}, removed: [], repodata_version: 1 });
    const channeldata = (await (await fetch(`${node.url}/conda-local/channeldata.json`)).json()) as { subdirs: string[]; packages: Record<string, { version: string; subdirs: string[] }> };
    expect(channeldata.subdirs).toEqual(['linux-64', 'noarch']);
    expect(channeldata.packages['rc-lib']).toMatchObject({ version: '1.1', subdirs: ['noarch'] });
    // The same file again: refused, nothing changed.
    // A name the upstream has is refused unless the group's routing claims it for the hosted member (rc-lib is claimed).
    const shadowing = await post((await buildCondaPackage(tempDir('rc-conda-shadow-'), { name: 'rc-upstream-lib', version: '0.1' })).path);
    expect(shadowing).toMatchObject({ status: 403, text: expect.stringMatching(/rc-upstream-lib is served by conda-proxy/) });
    expect((await fetch(`${node.url}/conda-proxy/-/package/rc-upstream-lib`)).status).toBe(200);
    expect((await fetch(`${node.url}/conda-local/-/package/rc-lib`)).status).toBe(200);
    expect((await fetch(`${node.url}/conda-local/-/package/rc-upstream-lib`)).status).toBe(404);
    // The web interface's view of what the upload command put there (the browse API, through the group).
    const view = await fetchPackageView(node.url, 'conda', 'rc-app');
    expect(view.heldBy).toBe('conda-local');
    expect(view.version).toBe('0.3.0');
    expect(view.dependencies).toEqual([
      { name: 'rc-lib', range: '>=1.0', kind: 'run' },
      { name: 'rc-upstream-lib', range: '>=2', kind: 'run' },
    ]);
    expect(view.facts).toMatchObject({ license: 'MIT', builds: 'linux-64: h1234_0' });
    expect(view.files.map((f) => [f.name, f.digests['sha256']])).toEqual([[`linux-64/${built['app']!.filename}`, built['app']!.sha256]]);
    expect((await fetchPackageView(node.url, 'conda', 'rc-lib', '1.0')).files.map((f) => f.name)).toEqual([`noarch/${built['lib10']!.filename}`]);
  });

  it('serves repodata with ETag and Last-Modified (304s), and as repodata.json.zst', async () => {
    const url = `${node.url}/conda-local/noarch/repodata.json`;
    const first = await fetch(url);
    const body = Buffer.from(await first.arrayBuffer());
    const etag = first.headers.get('etag')!;
    const modified = first.headers.get('last-modified')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(Date.parse(modified)).toBeGreaterThan(0);
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(url, { headers: { 'if-modified-since': modified } })).status).toBe(304);
    expect((await fetch(url, { headers: { 'if-modified-since': new Date(Date.parse(modified) - 60_000).toUTCString() } })).status).toBe(200);
    const zst = await fetch(`${url}.zst`);
    expect(zst.status).toBe(200);
    expect(Buffer.from(zstdDecompress(new Uint8Array(await zst.arrayBuffer()))).equals(body)).toBe(true);
    expect((await fetch(`${node.url}/conda/noarch/repodata.json.zst`)).status).toBe(200);
  });

  // What older conda versions (and mirrors of that age) fetch, and decompress with Python's bz2.
  it('serves repodata.json.bz2 for hosted, proxy and group channels, with ETag 304s', async () => {
    const served: { name: string; json: Buffer; compressed: Buffer }[] = [];
    for (const repo of ['conda-local', 'conda-proxy', 'conda']) {
      for (const subdir of ['noarch', 'linux-64']) {
        const url = `${node.url}/${repo}/${subdir}/repodata.json`;
        const json = Buffer.from(await (await fetch(url)).arrayBuffer());
        const answer = await fetch(`${url}.bz2`);
        expect(answer.status, `${repo}/${subdir}`).toBe(200);
        expect(answer.headers.get('content-type')).toBe('application/x-bzip2');
        const compressed = Buffer.from(await answer.arrayBuffer());
        expect(compressed.subarray(0, 3).toString('latin1')).toBe('BZh');
        served.push({ name: `${repo}/${subdir}`, json, compressed });
        // A revalidation is a 304; the second answer (from the derived cache) is the same bytes.
        const etag = answer.headers.get('etag')!;
        expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
        expect((await fetch(`${url}.bz2`, { headers: { 'if-none-match': etag } })).status).toBe(304);
        const again = await fetch(`${url}.bz2`);
        expect(again.headers.get('etag')).toBe(etag);
        expect(Buffer.from(await again.arrayBuffer()).equals(compressed)).toBe(true);
      }
    }
    pythonBz2(served.map((s) => s.compressed)).forEach((decoded, i) => expect(decoded.equals(served[i]!.json), served[i]!.name).toBe(true));
    const linux = (await (await fetch(`${node.url}/conda/linux-64/repodata.json`)).json()) as Repodata;
    expect(Object.keys(linux['packages.conda'])).toContain(built['app']!.filename);
    // A subdir with nothing in it too.
    expect((await fetch(`${node.url}/conda-local/win-64/repodata.json.bz2`)).status).toBe(200);
  });

  it('rattler solves and downloads from the hosted channel, the proxy and the group', async () => {
    const hosted = await solve(`${node.url}/conda-local/`, ['rc-lib']);
    expect(hosted.map((p) => `${p.name}=${p.version}`)).toEqual(['rc-lib=1.1']);
    await downloadAll(hosted);

    const proxied = await solve(`${node.url}/conda-proxy/`, ['rc-upstream-lib']);
    expect(proxied.map((p) => `${p.name}=${p.version}`)).toEqual(['rc-upstream-lib=2.0']);
    expect(proxied[0]!.url).toBe(`${node.url}/conda-proxy/noarch/${built['upstreamLib']!.filename}`);
    await downloadAll(proxied);

    // Through the group: the app from the hosted member, its dependency from the proxy, and
    // rc-lib 1.1 (the hosted member owns rc-lib: the upstream's 9.0 is never offered).
    const grouped = await solve(`${node.url}/conda/`, ['rc-app']);
    console.log(`rattler solve through the group:\n${grouped.map((p) => `  ${p.name} ${p.version}  ${p.url}`).join('\n')}`);
    expect(grouped.map((p) => `${p.name}=${p.version}`)).toEqual(['rc-app=0.3.0', 'rc-lib=1.1', 'rc-upstream-lib=2.0']);
    expect(grouped.every((p) => p.url.startsWith(`${node.url}/conda/`))).toBe(true);
    expect(await downloadAll(grouped)).toEqual(['conda-local', 'conda-local', 'conda-proxy']);
    const pinned = await fetch(`${node.url}/conda/noarch/${built['shadow']!.filename}`);
    expect(pinned.status).toBe(404);
  });

  it('refuses bad packages with a 4xx and leaves the repodata as it was', async () => {
    const dir = tempDir('rc-conda-bad-');
    const before = await (await fetch(`${node.url}/conda-local/noarch/repodata.json`)).text();
    const cases: [string, BuiltPackage][] = [
      ['index.json names another package', await buildCondaPackage(dir, { name: 'rc-liar', version: '1.0', index: { name: 'rc-other' } })],
      ['a ".." path in the payload', await buildCondaPackage(dir, { name: 'rc-dotdot', version: '1.0', files: [{ name: '../../etc/evil', data: 'x' }] })],
      ['a symlink out of the package', await buildCondaPackage(dir, { name: 'rc-link', version: '1.0', format: 'tar.bz2', files: [{ name: 'lib/escape', type: 'symlink', linkname: '../../../etc/passwd' }] })],
      ['an upper-case name', await buildCondaPackage(dir, { name: 'RC-Upper', version: '1.0' })],
      ['a noarch package claiming linux-64', await buildCondaPackage(dir, { name: 'rc-wrongsub', version: '1.0', index: { subdir: 'linux-64' } })],
    ];
    for (const [label, pkg] of cases) expect((await post(pkg.path)).status, label).toBe(400);
    const elsewhere = await buildCondaPackage(dir, { name: 'rc-elsewhere', version: '1.0' });
    expect(await post(elsewhere.path, { subdir: 'linux-64' })).toMatchObject({ status: 400, text: expect.stringMatching(/is for subdir noarch, not linux-64/) });
    const notAPackage = path.join(dir, 'rc-junk-1.0-0.tar.bz2');
    writeFileSync(notAPackage, 'this is not bzip2');
    expect(await post(notAPackage)).toMatchObject({ status: 400, text: expect.stringMatching(/bzip2/) });
    const notConda = path.join(dir, 'rc-wheel-1.0-py3-none-any.whl');
    writeFileSync(notConda, 'PK');
    expect((await post(notConda)).status).toBe(400);
    const tooBig = await buildCondaPackage(dir, { name: 'rc-too-big', version: '1.0', files: [{ name: 'share/noise', data: randomBytes(400 * 1024) }] });
    expect((await post(tooBig.path)).status).toBe(413);
    // Nothing at all for an anonymous client.
    expect((await fetch(`${node.url}/conda-local/-/upload`, { method: 'POST', body: new FormData() })).status).toBe(401);
    expect(await (await fetch(`${node.url}/conda-local/noarch/repodata.json`)).text()).toBe(before);
  });

  it('marks a package broken with registry-core call and deletes one over HTTP; the repodata follows', async () => {
    const broken = await runCli(['call', 'conda-local', 'POST', '/-/mark-broken', '--json', JSON.stringify({ subdir: 'noarch', filename: built['lib11']!.filename }), '-c', node.configFile]);
    expect(broken.code, broken.stderr).toBe(0);
    let noarch = (await (await fetch(`${node.url}/conda-local/noarch/repodata.json`)).json()) as Repodata;
    expect(noarch.removed).toEqual([built['lib11']!.filename]);
    expect(noarch['packages.conda'][built['lib11']!.filename]).toBeUndefined();
    // Still downloadable for environments that pinned it; no longer solvable.
    expect((await fetch(`${node.url}/conda-local/noarch/${built['lib11']!.filename}`)).status).toBe(200);
    expect((await solve(`${node.url}/conda-local/`, ['rc-lib'])).map((p) => p.version)).toEqual(['1.0']);
    // Deleting over HTTP (registry-core call conda-local DELETE /noarch/<file> is the same request).
    expect((await fetch(`${node.url}/conda-local/noarch/${built['lib10']!.filename}`, { method: 'DELETE' })).status).toBe(401);
    const deleted = await fetch(`${node.url}/conda-local/noarch/${built['lib10']!.filename}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(deleted.status).toBe(200);
    noarch = (await (await fetch(`${node.url}/conda-local/noarch/repodata.json`)).json()) as Repodata;
    expect(noarch.packages).toEqual({});
    // The compressed variant follows the change (never the cached old bytes). A HEAD first
    // (the answer dropped unread), then requests at once: one compression, the same bytes.
    const bz2Url = `${node.url}/conda-local/noarch/repodata.json.bz2`;
    expect((await fetch(bz2Url, { method: 'HEAD' })).status).toBe(200);
    const answers = await Promise.all([1, 2, 3].map(async () => Buffer.from(await (await fetch(bz2Url)).arrayBuffer())));
    expect(answers[1]!.equals(answers[0]!) && answers[2]!.equals(answers[0]!)).toBe(true);
    expect(JSON.parse(pythonBz2([answers[0]!])[0]!.toString())).toEqual(noarch);
    expect((await fetch(`${node.url}/conda-local/noarch/${built['lib10']!.filename}`)).status).toBe(404);
  });
});
