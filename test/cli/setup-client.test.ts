// `registry-core setup <repository> --client C --write`: the clients' own configuration files
// merged (a backup of each first), then used by the real clients: npm publishes and installs
// with the written ~/.npmrc, twine uploads with ~/.pypirc, pip downloads through pip.conf, cargo and the go command
// work from the files written for them.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cargoClient, crateProject } from '../helpers/cargo.js';
import { moduleZip, runGo } from '../helpers/go.js';
import { makePackage } from '../helpers/npm-client.js';
import { PYTHON, TWINE, buildProject, run } from '../helpers/python.js';
import { createUserAndToken, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

/** npm with only `home` for configuration (no npm_config_* of the test runner). */
function npm(args: string[], home: string): Promise<{ code: number | null; out: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_|^NPM_|^PNPM_|^pnpm_/.test(k)) env[k] = v;
  return new Promise((resolve) => {
    const child = spawn('npm', args, { cwd: home, env: { ...env, HOME: home, npm_config_cache: path.join(home, '.npm-cache'), CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('registry-core setup <repository>', () => {
  let registry: RunningRegistry;
  let token: string;
  let home: string;

  beforeAll(async () => {
    registry = await startRegistry(`repositories:
  npm-local: { format: npm, type: hosted }
  pypi-local: { format: pypi, type: hosted }
  cargo-local: { format: cargo, type: hosted }
  go-local: { format: go, type: hosted }
`);
    token = await createUserAndToken(registry.configFile, 'setup-user');
    home = tempDir('setup-home');
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
  });

  it('prints the files without --write, changing nothing', async () => {
    const printed = await runCli(['setup', 'npm-local', '--client', 'npm', '--home', home, '--config', registry.configFile]);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toContain(`registry=${registry.url}/npm-local/`);
    expect(printed.stdout).toContain('_authToken=${NPM_TOKEN}');
    expect(existsSync(path.join(home, '.npmrc'))).toBe(false);
    const unknown = await runCli(['setup', 'npm-local', '--client', 'mvn', '--config', registry.configFile]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('clients: npm, pnpm, yarn');
  });

  it('merges .npmrc with a backup, and npm publishes and installs with it', async () => {
    writeFileSync(path.join(home, '.npmrc'), '# my settings\nregistry=https://example.invalid/\nfund=false\n');
    const written = await runCli(['setup', 'npm-local', '--client', 'npm', '--write', '--token', token, '--home', home, '--config', registry.configFile]);
    expect(written.code, written.stderr).toBe(0);
    const npmrc = readFileSync(path.join(home, '.npmrc'), 'utf8');
    expect(npmrc).toBe(`# my settings\nregistry=${registry.url}/npm-local/\nfund=false\n${new URL(registry.url).host.replace(/^/, '//')}/npm-local/:_authToken=${token}\n`);
    expect(statSync(path.join(home, '.npmrc')).mode & 0o777).toBe(0o600);
    const backups = readdirSync(home).filter((f) => f.startsWith('.npmrc.bak-'));
    expect(backups).toHaveLength(1);
    expect(readFileSync(path.join(home, backups[0]!), 'utf8')).toContain('https://example.invalid/');
    const published = await npm(['publish', makePackage({ name: 'rc-setup-demo', version: '1.0.0' })], home);
    expect(published.code, published.out).toBe(0);
    const project = path.join(home, 'project');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { 'rc-setup-demo': '1.0.0' } }));
    const installed = await npm(['install', '--prefix', project, '--no-audit'], home);
    expect(installed.code, installed.out).toBe(0);
    expect(existsSync(path.join(project, 'node_modules', 'rc-setup-demo', 'package.json'))).toBe(true);
  });

  it('writes pip.conf and .pypirc: twine uploads and pip downloads with them', async () => {
    writeFileSync(path.join(home, '.pypirc'), '[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = someone\n');
    const written = await runCli(['setup', 'pypi-local', '--write', '--home', home, '--config', registry.configFile], { env: { REGISTRY_CORE_TOKEN: token } });
    expect(written.code, written.stderr).toBe(0);
    expect(readFileSync(path.join(home, '.config', 'pip', 'pip.conf'), 'utf8')).toBe(`[global]\nindex-url = ${registry.url}/pypi-local/simple/\n`);
    const pypirc = readFileSync(path.join(home, '.pypirc'), 'utf8');
    expect(pypirc).toContain('index-servers = pypi registry-core-pypi-local');
    expect(pypirc).toContain('[pypi]\nusername = someone');
    const project = await buildProject({ name: 'rc-setup-py', version: '1.0.0', module: 'rc_setup_py' });
    const uploaded = await run(TWINE, ['upload', '--non-interactive', '--disable-progress-bar', '-r', 'registry-core-pypi-local', project.wheel], { home });
    expect(uploaded.code, uploaded.stdout + uploaded.stderr).toBe(0);
    const downloads = path.join(home, 'downloads');
    const downloaded = await run(PYTHON, ['-m', 'pip', 'download', '--no-deps', '-d', downloads, 'rc-setup-py==1.0.0'], { home, env: { PIP_CONFIG_FILE: '', XDG_CONFIG_HOME: path.join(home, '.config') } });
    expect(downloaded.code, downloaded.stdout + downloaded.stderr).toBe(0);
    expect(readdirSync(downloads)).toEqual([path.basename(project.wheel)]);
  });

  it('writes .cargo/config.toml and credentials.toml: cargo publishes and fetches with them', async () => {
    const cargoHome = path.join(home, '.cargo');
    mkdirSync(cargoHome, { recursive: true });
    writeFileSync(path.join(cargoHome, 'config.toml'), '[net]\nretry = 0\n');
    const written = await runCli(['setup', 'cargo-local', '--write', '--token', token, '--home', home, '--config', registry.configFile]);
    expect(written.code, written.stderr).toBe(0);
    expect(readFileSync(path.join(cargoHome, 'config.toml'), 'utf8')).toBe(
      `[net]\nretry = 0\n\n[registries.cargo-local]\nindex = "sparse+${registry.url}/cargo-local/"\n\n[registry]\nglobal-credential-providers = ["cargo:token"]\n`,
    );
    // The client as configured by those files alone (cargoClient's own config.toml is replaced by them).
    const cargo = cargoClient('');
    writeFileSync(path.join(cargo.home, 'config.toml'), readFileSync(path.join(cargoHome, 'config.toml')));
    writeFileSync(path.join(cargo.home, 'credentials.toml'), readFileSync(path.join(cargoHome, 'credentials.toml')));
    const crate = crateProject('rc-setup-crate', '0.1.0', { source: 'pub fn answer() -> u32 { 42 }\n' });
    const published = await cargo.run(['publish', '--no-verify', '--allow-dirty', '--registry', 'cargo-local'], { cwd: crate });
    expect(published.code, published.stderr).toBe(0);
    const consumer = crateProject('rc-setup-consumer', '0.1.0', { source: 'pub fn f() -> u32 { rc_setup_crate::answer() }\n', dependencies: ['rc-setup-crate = { version = "0.1.0", registry = "cargo-local" }'] });
    const fetched = await cargo.run(['fetch'], { cwd: consumer });
    expect(fetched.code, fetched.stderr).toBe(0);
    // What the web interface shows of the crate (Cargo's packageView and installLines).
    const shown = (await (await fetch(`${registry.url}/-/api/repositories/cargo-local/packages/rc-setup-crate`)).json()) as { install: string[]; files: { name: string; size: number }[]; version: string };
    expect(shown.version).toBe('0.1.0');
    expect(shown.install).toEqual(['cargo add rc-setup-crate --registry cargo-local']);
    expect(shown.files.map((f) => f.name)).toEqual(['rc-setup-crate-0.1.0.crate']);
    expect(shown.files[0]!.size).toBeGreaterThan(0);
  });

  it('writes the go env file: the go command downloads a module with it alone', async () => {
    const module = 'example.com/rc/setup';
    const zip = moduleZip(module, 'v1.0.0', { 'go.mod': `module ${module}\n\ngo 1.19\n`, 'setup.go': 'package setup\n' });
    const put = await fetch(`${registry.url}/go-local/${module}/@v/v1.0.0.zip`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: zip });
    expect(put.status, await put.text()).toBe(201);
    const written = await runCli(['setup', 'go-local', '--client', 'go', '--write', '--token', token, '--home', home, '--config', registry.configFile]);
    expect(written.code, written.stderr).toBe(0);
    // Over plain HTTP the go command sends no credentials (it refuses them in a URL): the URL alone.
    expect(readFileSync(path.join(home, '.config', 'go', 'env'), 'utf8')).toBe(`GOPROXY=${registry.url}/go-local/,direct\n`);
    // The go command with no GOPROXY of its own: the env file is its only way to the registry.
    const goHome = path.join(home, 'go-run');
    mkdirSync(goHome, { recursive: true });
    const env = { PATH: process.env['PATH'], HOME: home, GOPATH: path.join(goHome, 'gopath'), GOCACHE: path.join(goHome, 'cache'), GONOSUMDB: 'example.com', GOTOOLCHAIN: 'local', GOFLAGS: '-modcacherw' };
    const downloaded = await runGo(['mod', 'download', '-json', `${module}@v1.0.0`], goHome, env);
    expect(downloaded.code, downloaded.stdout + downloaded.stderr).toBe(0);
    expect(JSON.parse(downloaded.stdout) as { Version: string }).toMatchObject({ Version: 'v1.0.0' });
  });
});
