// Go modules driven by the real go command (Debian's golang-go): modules published with a
// plain HTTP PUT of their zip (curl -T) to a hosted repository, and with `registry-core go
// publish` on a second registry-core that a proxy mirrors; `go mod download`, `go build`, `go list -m -versions` through the
// group; the build again with the upstream stopped; a hosted module offered differently by
// the upstream is always taken from hosted. The proxied module is verified by the go command
// against a checksum database (a fake one the test signs) read through the registry's
// sumdb/ paths, and by the proxy before it serves it: a zip that is not the database's is refused.
import { createHash } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GO, goEnvironment, moduleZip, runGo, startFakeSumdb, writeMainModule, type FakeSumdb } from '../helpers/go.js';
import { fetchPackageView } from '@registry-core/testing';
import { createUserAndToken, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const GREET = 'example.com/rc/greet';
// Upper-case letters: written `!r!c` in GOPROXY URLs.
const SHOUT = 'example.com/RC/shout';

/** The greet module's zip; `directories`: with directory entries, as `zip -r` writes them. */
function greet(version: string, word: string, directories = false): Buffer {
  return moduleZip(GREET, version, {
    ...(directories ? { '': '', 'docs/': '' } : {}),
    'go.mod': `module ${GREET}\n\ngo 1.19\n`,
    'greet.go': `package greet\n\n// Hello greets.\nfunc Hello(name string) string { return "${word}, " + name }\n`,
  });
}

/**
 * `curl -T` (a PUT) of a zip, as the README says; resolves the status and body. Not
 * synchronous: the fake checksum database answers in this process meanwhile.
 */
async function curlPut(url: string, credentials: string, zip: Buffer): Promise<{ status: number; body: string }> {
  const file = path.join(tempDir('go-zip'), 'module.zip');
  writeFileSync(file, zip);
  const { stdout } = await promisify(execFile)('curl', ['-sS', '-u', credentials, '-T', file, '-w', '\n%{http_code}', url], { encoding: 'utf8' });
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

describe('Go modules with the go command', () => {
  let upstream: RunningRegistry;
  let node: RunningRegistry;
  let app: string;
  let home: string;
  let published: string;
  let publishedFirst: string;
  let sumdb: FakeSumdb;
  const SUMDB = 'sum.rc.test';
  /** The go command's environment: hosted modules outside the checksum database, the proxied one checked against it. */
  const env = (goHome: string) => ({ ...goEnvironment(`${node.url}/go/`, { home: goHome, noSumDb: 'example.com/rc' }), GOSUMDB: sumdb.verifierKey });

  beforeAll(async () => {
    expect(existsSync(GO), 'Debian golang-go is installed').toBe(true);
    upstream = await startRegistry(`repositories:\n  go-origin: { format: go, type: hosted }\n`);
    const seed = await createUserAndToken(upstream.configFile, 'seed');
    // Published with `registry-core go publish` from a folder: its VCS folder, vendored
    // packages and nested module are left out of the zip, as the go command leaves them.
    const folder = tempDir('go-shout');
    const files: Record<string, string> = {
      'go.mod': `module ${SHOUT}\n\ngo 1.19\n`,
      'shout.go': 'package shout\n\nimport "strings"\n\n// Shout upper-cases.\nfunc Shout(s string) string { return strings.ToUpper(s) + "!" }\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      'vendor/x.org/y/y.go': 'package y\n',
      'sub/go.mod': `module ${SHOUT}/sub\n`,
      'sub/sub.go': 'package sub\n',
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(folder, name)), { recursive: true });
      writeFileSync(path.join(folder, name), text);
    }
    const cli = await runCli(['go', 'publish', folder, '--version', 'v1.0.0', '--repository', 'go-origin', '--config', upstream.configFile, '--token', seed]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('left out: .git/ (version control)');
    expect(cli.stdout).toContain('left out: sub/ (a nested module)');
    expect(cli.stdout).toContain('left out: vendor/x.org/y/y.go (a vendored package)');
    expect(cli.stdout).toContain(`published ${SHOUT}@v1.0.0 (2 files,`);
    const shouted = { body: cli.stdout.split('\n').filter((line) => line.startsWith(`${SHOUT} v1.0.0`)).join('\n') + '\n' };
    // A second module whose checksum database record does not match its zip.
    const BAD = 'example.com/RC/tampered';
    const tampered = await curlPut(`${upstream.url}/go-origin/example.com/!r!c/tampered/@v/v1.0.0.zip`, `seed:${seed}`, moduleZip(BAD, 'v1.0.0', { 'go.mod': `module ${BAD}\n`, 't.go': 'package tampered\n' }));
    expect(tampered.status).toBe(201);
    // 298 other records first: the two are in a partial tile, under a level-1 tile (as in any real database).
    const others = Array.from({ length: 298 }, (_, i) => `example.org/m${i} v1.0.0 h1:${Buffer.alloc(32, i).toString('base64')}\n`);
    sumdb = await startFakeSumdb(SUMDB, [...others, shouted.body, tampered.body.replace(/ h1:\S+\n/, ` h1:${Buffer.alloc(32).toString('base64')}\n`)]);
    // The proxy checks what its upstream serves against the database (its own URL, on an allowed origin).
    const origin = new URL(sumdb.url).origin;
    node = await startRegistry(`repositories:
  go-local: { format: go, type: hosted }
  go-proxy: { format: go, type: proxy, upstream: "${upstream.url}/go-origin/", sumdb: { key: "${sumdb.verifierKey}", url: "${sumdb.url}" }, noSumCheck: [example.com/rc], cache: { allowedOrigins: ["${origin}"], allowPrivateAddresses: true } }
  go: { format: go, type: group, members: [go-local, go-proxy] }
`);
    const token = await createUserAndToken(node.configFile, 'pat');
    // v1.0.0 straight to hosted, v1.1.0 through the group (to its hosted member).
    const first = await curlPut(`${node.url}/go-local/${GREET}/@v/v1.0.0.zip`, `pat:${token}`, greet('v1.0.0', 'Hello', true));
    expect(first.status, first.body).toBe(201);
    publishedFirst = first.body;
    const second = await curlPut(`${node.url}/go/${GREET}/@v/v1.1.0.zip`, `pat:${token}`, greet('v1.1.0', 'Hi'));
    expect(second.status, second.body).toBe(201);
    published = second.body;
    // The upstream offers the same module, differently, later: never served by the group.
    expect((await curlPut(`${upstream.url}/go-origin/${GREET}/@v/v1.2.0.zip`, `seed:${seed}`, greet('v1.2.0', 'Upstream'))).status).toBe(201);
    app = writeMainModule('example.com/rc/app', {
      'main.go': `package main\n\nimport (\n\t"fmt"\n\n\t"${GREET}"\n\t"${SHOUT}"\n)\n\nfunc main() { fmt.Println(shout.Shout(greet.Hello("go"))) }\n`,
    });
    home = tempDir('go-home');
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
    await sumdb?.stop();
  });

  it('go mod download and go build through the group: a hosted module and one proxied from another registry, checked against the checksum database', async () => {
    const got = await runGo(['get', `${GREET}@v1.1.0`, `${SHOUT}@latest`], app, env(home));
    expect(got.code, got.stderr).toBe(0);
    // The go command found the checksum database through the registry (GOPROXY has no
    // `direct`) and
    // verified the proxied module's record and tiles there; the proxy had checked the zip
    // against the same record and tiles before serving it (its database URL is the fake's
    // own): one lookup and each tile asked once, for both.
    expect(sumdb.requests.filter((p) => /lookup|tile/.test(p)).sort()).toEqual(['/lookup/example.com/!r!c/shout@v1.0.0', '/tile/8/0/001.p/44', '/tile/8/1/000.p/1']);
    const downloaded = await runGo(['mod', 'download', '-json', GREET, SHOUT], app, env(home));
    expect(downloaded.code, downloaded.stderr).toBe(0);
    const sums = readFileSync(path.join(app, 'go.sum'), 'utf8');
    // The hashes the go command computed are the ones the publish answered with.
    for (const line of published.trim().split('\n')) expect(sums).toContain(line);
    expect(sums).toContain(`${SHOUT} v1.0.0 h1:`);
    // A zip with directory entries: the go command takes it, and hashes it as the registry did.
    const older = await runGo(['mod', 'download', '-json', `${GREET}@v1.0.0`], app, env(home));
    expect(older.code, older.stderr).toBe(0);
    const sum = (JSON.parse(older.stdout) as { Sum: string }).Sum;
    expect(publishedFirst).toContain(`${GREET} v1.0.0 ${sum}\n`);
    const built = await runGo(['build', '-o', 'app', '.'], app, env(home));
    expect(built.code, built.stderr).toBe(0);
    expect(execFileSync(path.join(app, 'app'), { encoding: 'utf8' })).toBe('HI, GO!\n');
    // The web interface's view of the hosted module (the browse API, through the group).
    const view = await fetchPackageView(node.url, 'go', GREET);
    expect(view.heldBy).toBe('go-local');
    expect(view.version).toBe('v1.1.0');
    expect(view.versions.map((v) => v.version).sort()).toEqual(['v1.0.0', 'v1.1.0']);
    expect(view.facts['go']).toBe('1.19');
    expect(published).toContain(`${GREET} v1.1.0 ${view.facts['h1']}\n`);
    expect(view.files.map((f) => [f.name, f.digests['sha256']])).toEqual([
      ['v1.1.0.zip', createHash('sha256').update(greet('v1.1.0', 'Hi')).digest('hex')],
      ['v1.1.0.mod', createHash('sha256').update(`module ${GREET}\n\ngo 1.19\n`).digest('hex')],
    ]);
    // For the version the page shows.
    expect(view.install).toEqual([`GOPROXY=${node.url}/go/,direct go get ${GREET}@v1.1.0`]);
    // The proxy's view of the module it cached for the go command (a proxy keeps no index:
    // its stored files are mapped to module and version): the version fetched, its files.
    const cached = await fetchPackageView(node.url, 'go-proxy', SHOUT);
    expect(cached.version).toBe('v1.0.0');
    expect(cached.versions.map((v) => v.version)).toEqual(['v1.0.0']);
    expect(cached.files.map((f) => f.name)).toContain('v1.0.0.zip');
    expect(cached.install.join('\n')).toContain(`${SHOUT}@v1.0.0`);
  });

  it('a module whose zip does not match its checksum database record is refused by the proxy, and so by the go command', async () => {
    const refused = await runGo(['mod', 'download', 'example.com/RC/tampered@v1.0.0'], app, env(home));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/502 [\s\S]*refused example.com\/RC\/tampered@v1.0.0: its hash h1:\S+ is not the checksum database's h1:/);
    expect(existsSync(path.join(home, 'gopath', 'pkg', 'mod', 'example.com', '!r!c', 'tampered@v1.0.0'))).toBe(false);
  });

  it('go list -m -versions: the hosted module only from hosted, the proxied one from the upstream', async () => {
    const listed = await runGo(['list', '-m', '-versions', GREET, SHOUT], app, env(home));
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toBe(`${GREET} v1.0.0 v1.1.0\n${SHOUT} v1.0.0\n`);
    const latest = await runGo(['list', '-m', `${GREET}@latest`], app, env(home));
    expect(latest.stdout.trim()).toBe(`${GREET} v1.1.0`);
    // The upstream does have v1.2.0; asking for it through the group is refused.
    const pinned = await runGo(['mod', 'download', `${GREET}@v1.2.0`], app, env(home));
    expect(pinned.code).not.toBe(0);
    expect(pinned.stderr).toMatch(/404|not found/i);
  });

  it('builds again from a fresh module cache with the upstream stopped', async () => {
    await upstream.stop();
    const built = await runGo(['build', '-o', 'app2', '.'], app, env(tempDir('go-home')));
    expect(built.code, built.stderr).toBe(0);
    expect(execFileSync(path.join(app, 'app2'), { encoding: 'utf8' })).toBe('HI, GO!\n');
  });
});
