// Go modules driven by the real go command (Debian's golang-go): modules published with a
// plain HTTP PUT of their zip (curl -T) to a hosted repository, and on a second registry-core
// that a proxy mirrors; `go mod download`, `go build`, `go list -m -versions` through the
// group; the build again with the upstream stopped; a hosted module offered differently by
// the upstream is always taken from hosted.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GO, goEnvironment, moduleZip, runGo, writeMainModule } from '../helpers/go.js';
import { createUserAndToken, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const GREET = 'example.com/rc/greet';
// Upper-case letters: written `!r!c` in GOPROXY URLs.
const SHOUT = 'example.com/RC/shout';

function greet(version: string, word: string): Buffer {
  return moduleZip(GREET, version, {
    'go.mod': `module ${GREET}\n\ngo 1.19\n`,
    'greet.go': `package greet\n\n// Hello greets.\nfunc Hello(name string) string { return "${word}, " + name }\n`,
  });
}

/** `curl -T` (a PUT) of a zip, as the README says; resolves the status and body. */
function curlPut(url: string, credentials: string, zip: Buffer): { status: number; body: string } {
  const file = path.join(tempDir('go-zip'), 'module.zip');
  writeFileSync(file, zip);
  const out = execFileSync('curl', ['-sS', '-u', credentials, '-T', file, '-w', '\n%{http_code}', url], { encoding: 'utf8' });
  const at = out.lastIndexOf('\n');
  return { status: Number(out.slice(at + 1)), body: out.slice(0, at) };
}

describe('Go modules with the go command', () => {
  let upstream: RunningRegistry;
  let node: RunningRegistry;
  let app: string;
  let home: string;
  let published: string;

  beforeAll(async () => {
    expect(existsSync(GO), 'Debian golang-go is installed').toBe(true);
    upstream = await startRegistry(`repositories:\n  go-origin: { format: go, type: hosted }\n`);
    const seed = await createUserAndToken(upstream.configFile, 'seed');
    const shout = moduleZip(SHOUT, 'v1.0.0', {
      'go.mod': `module ${SHOUT}\n\ngo 1.19\n`,
      'shout.go': 'package shout\n\nimport "strings"\n\n// Shout upper-cases.\nfunc Shout(s string) string { return strings.ToUpper(s) + "!" }\n',
    });
    expect(curlPut(`${upstream.url}/go-origin/example.com/!r!c/shout/@v/v1.0.0.zip`, `seed:${seed}`, shout).status).toBe(201);
    node = await startRegistry(`repositories:
  go-local: { format: go, type: hosted }
  go-proxy: { format: go, type: proxy, upstream: "${upstream.url}/go-origin/" }
  go: { format: go, type: group, members: [go-local, go-proxy] }
`);
    const token = await createUserAndToken(node.configFile, 'pat');
    // v1.0.0 straight to hosted, v1.1.0 through the group (to its hosted member).
    expect(curlPut(`${node.url}/go-local/${GREET}/@v/v1.0.0.zip`, `pat:${token}`, greet('v1.0.0', 'Hello')).status).toBe(201);
    const second = curlPut(`${node.url}/go/${GREET}/@v/v1.1.0.zip`, `pat:${token}`, greet('v1.1.0', 'Hi'));
    expect(second.status, second.body).toBe(201);
    published = second.body;
    // The upstream offers the same module, differently, later: never served by the group.
    expect(curlPut(`${upstream.url}/go-origin/${GREET}/@v/v1.2.0.zip`, `seed:${seed}`, greet('v1.2.0', 'Upstream')).status).toBe(201);
    app = writeMainModule('example.com/rc/app', {
      'main.go': `package main\n\nimport (\n\t"fmt"\n\n\t"${GREET}"\n\t"${SHOUT}"\n)\n\nfunc main() { fmt.Println(shout.Shout(greet.Hello("go"))) }\n`,
    });
    home = tempDir('go-home');
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
  });

  it('go mod download and go build through the group: a hosted module and one proxied from another registry', async () => {
    const env = goEnvironment(`${node.url}/go/`, { home });
    const got = await runGo(['get', `${GREET}@v1.1.0`, `${SHOUT}@latest`], app, env);
    expect(got.code, got.stderr).toBe(0);
    const downloaded = await runGo(['mod', 'download', '-json', GREET, SHOUT], app, env);
    expect(downloaded.code, downloaded.stderr).toBe(0);
    const sums = readFileSync(path.join(app, 'go.sum'), 'utf8');
    // The hashes the go command computed are the ones the publish answered with.
    for (const line of published.trim().split('\n')) expect(sums).toContain(line);
    expect(sums).toContain(`${SHOUT} v1.0.0 h1:`);
    const built = await runGo(['build', '-o', 'app', '.'], app, env);
    expect(built.code, built.stderr).toBe(0);
    expect(execFileSync(path.join(app, 'app'), { encoding: 'utf8' })).toBe('HI, GO!\n');
  });

  it('go list -m -versions: the hosted module only from hosted, the proxied one from the upstream', async () => {
    const env = goEnvironment(`${node.url}/go/`, { home });
    const listed = await runGo(['list', '-m', '-versions', GREET, SHOUT], app, env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toBe(`${GREET} v1.0.0 v1.1.0\n${SHOUT} v1.0.0\n`);
    const latest = await runGo(['list', '-m', `${GREET}@latest`], app, env);
    expect(latest.stdout.trim()).toBe(`${GREET} v1.1.0`);
    // The upstream does have v1.2.0; asking for it through the group is refused.
    const pinned = await runGo(['mod', 'download', `${GREET}@v1.2.0`], app, env);
    expect(pinned.code).not.toBe(0);
    expect(pinned.stderr).toMatch(/404|not found/i);
  });

  it('builds again from a fresh module cache with the upstream stopped', async () => {
    await upstream.stop();
    const env = goEnvironment(`${node.url}/go/`, { home: tempDir('go-home') });
    const built = await runGo(['build', '-o', 'app2', '.'], app, env);
    expect(built.code, built.stderr).toBe(0);
    expect(execFileSync(path.join(app, 'app2'), { encoding: 'utf8' })).toBe('HI, GO!\n');
  });
});
