// `registry-core start` with no config at all: npm as hosted + proxy + group, the proxy's
// upstream being the registry the local npm client is configured with, self-registration
// on; its banner, `setup` and `status`. Nothing here contacts that upstream.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

describe('zero-config default', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry(undefined);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('serves every installed format as hosted, proxy and group, with a short banner: where to point clients first, how to get a token, where the client lines are', async () => {
    const out = registry.output();
    const banner = out.slice(out.indexOf('registry-core ')).split('\n').filter((line) => !line.startsWith('{'));
    const end = banner.findIndex((line) => line.startsWith('client configuration for each repository: registry-core setup'));
    expect(end, out).toBeGreaterThan(0);
    expect(banner[0]).toContain('zero-config default');
    // The data folder, absolute, and that it depends on the current folder unless pinned.
    expect(banner[1]).toBe(`data: ${path.join(registry.dir, 'registry-data')} (under the current folder: started from another, it is another registry; pin it: dataDir in a config file, --data-dir or REGISTRY_CORE_DATA_DIR)`);
    expect(banner[2]).toBe('point clients at:');
    // One line per group, the members reached through it.
    const formats = ['cargo', 'conda', 'go', 'maven', 'npm', 'nuget', 'oci', 'pypi', 'zig'];
    const groups = banner.slice(3, 3 + formats.length);
    for (const [i, format] of formats.entries()) expect(groups[i]).toMatch(new RegExp(`^  ${format}\\s+http://127\\.0\\.0\\.1:${registry.port}/${format}/\\s+\\(${format} group of ${format}-local, ${format}-proxy\\)$`));
    // The web interface (@registry-core/plugin-web) is part of the default.
    expect(banner[3 + formats.length]).toBe(`web interface: http://127.0.0.1:${registry.port}/`);
    const page = await fetch(`${registry.url}/`, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(banner[4 + formats.length]).toMatch(/^a user and a token: registry-core user add NAME --password PASSWORD, then registry-core token create --user NAME \(or npm adduser: self-registration is on\)$/);
    expect(end).toBe(5 + formats.length);
    expect(out).not.toContain('npm config set registry');
    const health = (await (await fetch(`${registry.url}/-/health`)).json()) as { repositories: { name: string; type: string }[] };
    // Every installed format gets the three (each format above ships with registry-core).
    expect(health.repositories.map((r) => `${r.name}:${r.type}`).sort()).toEqual(formats.flatMap((f) => [`${f}-local:hosted`, `${f}-proxy:proxy`, `${f}:group`]));
    expect(existsSync(path.join(registry.dir, 'registry-data', 'registry.sqlite'))).toBe(true);
  });

  it('prints every client line with `registry-core setup`, for the port the server was started on', async () => {
    const setup = await runCli(['setup'], { cwd: registry.dir });
    expect(setup.code, setup.stderr).toBe(0);
    const out = setup.stdout;
    expect(out).toContain(`registry-core running at http://127.0.0.1:${registry.port}`);
    const upstream = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
    expect(out).toContain(`npm-proxy  (npm proxy of ${upstream}`);
    expect(out).toContain('npm  (npm group of npm-local, npm-proxy)');
    expect(out).toContain(`npm config set registry http://127.0.0.1:${registry.port}/npm/`);
    expect(out).toContain('maven  (maven group of maven-local, maven-proxy)');
    expect(out).toContain(`settings.xml: <mirror><id>maven</id><mirrorOf>*</mirrorOf><url>http://127.0.0.1:${registry.port}/maven/</url></mirror>`);
    expect(out).not.toContain(`<mirrorOf>*</mirrorOf><url>http://127.0.0.1:${registry.port}/maven-local/`);
    expect(out).toContain('pypi  (pypi group of pypi-local, pypi-proxy)');
    expect(out).toContain('cargo-proxy  (cargo proxy of https://index.crates.io/)');
    expect(out).toContain(`.cargo/config.toml (crates.io through it): [source.crates-io] replace-with = "cargo-mirror"  [source.cargo-mirror] registry = "sparse+http://127.0.0.1:${registry.port}/cargo/"`);
    expect(out).toContain(`export GOPROXY=http://127.0.0.1:${registry.port}/go/,direct`);
    expect(out).toContain(`pip install --index-url http://127.0.0.1:${registry.port}/pypi/simple/ <package>`);
    expect(out).toContain('nuget-proxy  (nuget proxy of https://api.nuget.org/v3/index.json)');
    expect(out).toContain(`dotnet nuget add source http://127.0.0.1:${registry.port}/nuget/v3/index.json -n nuget`);
    expect(out).toContain('zig  (zig group of zig-local, zig-proxy)');
    expect(out).toContain(`zig fetch --save http://127.0.0.1:${registry.port}/zig/packages/<name>/<version>/tarball`);
    expect(out).toContain('conda-proxy  (conda proxy of https://conda.anaconda.org/conda-forge/');
    expect(out).toContain(`.condarc: channels: [http://127.0.0.1:${registry.port}/conda]`);
    expect(out).toContain(`registry-core conda upload <files> --repository conda-local --token <token>`);
    // Groups before their members.
    expect(out.indexOf('npm  (npm group')).toBeLessThan(out.indexOf('npm-local  (npm hosted)'));
  });

  it('is found by `registry-core status` whatever port it was started on', async () => {
    const status = await runCli(['status'], { cwd: registry.dir });
    expect(status.stdout).toContain(`http://127.0.0.1:${registry.port}: ok`);
    expect(status.code).toBe(0);
  });

  it('lets a client register itself', async () => {
    const created = await fetch(`${registry.url}/npm/-/user/org.couchdb.user:dev`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'dev', password: 'dev-password-1', type: 'user' }),
    });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    const whoami = await fetch(`${registry.url}/npm/-/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(await whoami.json()).toEqual({ username: 'dev' });
  });
});
