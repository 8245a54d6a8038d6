// registry-core as a user gets it: every public package published with `changeset publish`
// (pnpm publish) to a hosted npm repository of a registry-core started from this workspace,
// then, in empty folders with no workspace around them and a clean HOME and npm cache,
// `npx registry-core@<version> start` serves the zero-config default, and a plugin installed
// by name beside the CLI and listed in a config is loaded (one wanting an API major the host
// lacks is refused by name with its range). Everything a user installs comes through that
// registry: its npm group proxies the machine's npm registry for the third-party
// dependencies. better-sqlite3 (the one native dependency) installs its prebuilt binary as a
// user's install does, from a binary host of the test's own (its project's release downloads
// are not reachable here) serving the binary this workspace built from the same version.
// NETWORK: this test needs the machine's npm registry (the third-party dependencies come from
// it through the proxy), as any `npm install` of registry-core does.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nerfDart } from '../helpers/npm-client.js';
import { repoRoot, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

interface Command {
  code: number;
  stdout: string;
  stderr: string;
}

/** The workspace's public packages: name, version and folder. */
function publicPackages(): { name: string; version: string; dir: string }[] {
  const dirs = ['cli', ...['core', 'plugins', 'storage-drivers'].flatMap((top) => readdirSync(path.join(repoRoot, top)).map((d) => path.join(top, d)))];
  return dirs
    .filter((dir) => existsSync(path.join(repoRoot, dir, 'package.json')))
    .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(path.join(repoRoot, dir, 'package.json'), 'utf8')) as { name: string; version: string; private?: boolean } }))
    .filter(({ pkg }) => !pkg.private)
    .map(({ dir, pkg }) => ({ name: pkg.name, version: pkg.version, dir }));
}

// Where this machine's Node headers are (node-gyp builds better-sqlite3 with them; without it
// node-gyp downloads them, and that download is not reachable here): machine setup, kept.
const nodedir = execFileSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' }).trim();

/**
 * better-sqlite3's prebuilt-binary host, as its install (prebuild-install) asks it:
 * `/v<version>/better-sqlite3-v<version>-node-v<abi>-<platform>-<arch>.tar.gz` holding
 * `build/Release/better_sqlite3.node`, packed from the binary this workspace compiled from the
 * same version. The requests it answered are counted.
 */
async function startBinaryHost(): Promise<{ url: string; served: string[]; close: () => Promise<void> }> {
  const fromKernel = createRequire(path.join(repoRoot, 'core', 'kernel', 'package.json'));
  const packageDir = path.dirname(fromKernel.resolve('better-sqlite3/package.json'));
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const file = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const packed = path.join(mkdtempSync(path.join(tmpdir(), 'rc-release-prebuilt-')), file);
  execFileSync('tar', ['-czf', packed, '-C', packageDir, 'build/Release/better_sqlite3.node']);
  const served: string[] = [];
  const server: Server = createServer((req, res) => {
    if (req.url === `/v${version}/${file}`) {
      served.push(req.url);
      res.writeHead(200, { 'content-type': 'application/gzip' });
      res.end(readFileSync(packed));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** better-sqlite3 installed with its prebuilt binary: the binary, and no compiler's objects beside it. */
function expectPrebuilt(packageDir: string): void {
  expect(existsSync(path.join(packageDir, 'build', 'Release', 'better_sqlite3.node')), packageDir).toBe(true);
  expect(existsSync(path.join(packageDir, 'build', 'Release', 'obj.target')), `${packageDir} compiled from source`).toBe(false);
}

/** A clean HOME: its own npmrc (registry, token), npm cache and pnpm/XDG folders. */
function cleanHome(registry: string, token?: string, binaryHost?: string): { home: string; env: NodeJS.ProcessEnv } {
  const home = mkdtempSync(path.join(tmpdir(), 'rc-release-home-'));
  const lines = [`registry=${registry}`, 'audit=false', 'fund=false', 'update-notifier=false', 'replace-registry-host=never'];
  if (nodedir && nodedir !== 'undefined' && nodedir !== 'null') lines.push(`nodedir=${nodedir}`);
  if (token) lines.push(`${nerfDart(registry)}:_authToken=${token}`);
  writeFileSync(path.join(home, '.npmrc'), `${lines.join('\n')}\n`);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|NPM_|PNPM_|pnpm_|REGISTRY_CORE_|VITEST|INIT_CWD)/.test(k)) env[k] = v;
  Object.assign(env, {
    HOME: home,
    npm_config_userconfig: path.join(home, '.npmrc'),
    npm_config_cache: path.join(home, '.npm'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
    CI: 'true',
  });
  if (binaryHost) env['npm_config_better_sqlite3_binary_host'] = binaryHost;
  return { home, env };
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Command> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** A long-running command in its own process group; resolves once it prints the server's line. */
async function serve(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ url: string; output: () => string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const m = /registry-core \S+ listening on port (\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`${command} ${args.join(' ')} exited before listening:\n${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

/**
 * What in an installed tree points back at the workspace: a symlink into it, a manifest or
 * lockfile naming its folder, a registry-core package with a `workspace:`, `link:`, `file:`
 * or `catalog:` range, a lockfile entry linked or resolved from anywhere but a registry URL.
 * (Third-party packages' own development ranges, such as `file:` devDependencies, are theirs.)
 */
function pointersBack(dir: string): string[] {
  const found: string[] = [];
  const ours = (name: unknown) => typeof name === 'string' && (name === 'registry-core' || name.startsWith('@registry-core/') || name.startsWith('@someone/'));
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isSymbolicLink()) {
        const target = realpathSync(full);
        if (target.startsWith(repoRoot + path.sep)) found.push(`${full} -> ${target}`);
      } else if (entry.isDirectory()) walk(full);
      else if (entry.name === 'package.json' || entry.name === 'package-lock.json') {
        const text = readFileSync(full, 'utf8');
        if (text.includes(repoRoot)) found.push(`${full} names ${repoRoot}`);
        const json = JSON.parse(text) as Record<string, any>;
        if (entry.name === 'package.json' && ours(json['name'])) {
          for (const kind of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
            for (const [dep, range] of Object.entries<string>(json[kind] ?? {})) if (/^(workspace|link|file|catalog):/.test(range)) found.push(`${full}: ${dep}@${range}`);
          }
        }
        if (entry.name === 'package-lock.json') {
          for (const [where, pkg] of Object.entries<Record<string, unknown>>(json['packages'] ?? {})) {
            if (!where) continue;
            if (pkg['link']) found.push(`${full}: ${where} is a link`);
            if (typeof pkg['resolved'] === 'string' && !/^https?:\/\//.test(pkg['resolved'])) found.push(`${full}: ${where} resolved from ${pkg['resolved']}`);
          }
        }
      }
    }
  };
  walk(dir);
  return found;
}

/** An empty folder with no package.json, lockfile or workspace in it or any folder above. */
function emptyFolder(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `rc-release-${prefix}-`));
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    for (const marker of ['package.json', 'pnpm-workspace.yaml', 'node_modules', '.npmrc']) {
      if (d !== dir && existsSync(path.join(d, marker))) throw new Error(`${path.join(d, marker)} is above the test's empty folder`);
    }
  }
  return dir;
}

// An install of the CLI takes tens of seconds on a busy machine: the time limit is for a hang,
// not a measure.
const INSTALL_TIMEOUT = 900_000;

describe('released packages, from a registry', () => {
  const packages = publicPackages();
  const cli = packages.find((p) => p.name === 'registry-core')!;
  let registry: RunningRegistry;
  let group: string;
  let hosted: string;
  let token: string;
  let client: { home: string; env: NodeJS.ProcessEnv };
  let binaryHost: Awaited<ReturnType<typeof startBinaryHost>>;

  beforeAll(async () => {
    // The npm proxy's upstream is the local npm client's registry (its default).
    registry = await startRegistry(`
repositories:
  npm-local: { format: npm, type: hosted }
  npm-proxy: { format: npm, type: proxy }
  npm: { format: npm, type: group, members: [npm-local, npm-proxy] }
`);
    group = `${registry.url}/npm/`;
    hosted = `${registry.url}/npm-local/`;
    expect((await runCli(['user', 'add', 'releaser', '--password', 'releaser-password-1', '--roles', 'admin', '--config', registry.configFile])).code).toBe(0);
    const created = await runCli(['token', 'create', '--user', 'releaser', '--config', registry.configFile]);
    token = created.stdout.trim().split('\n').pop()!;
    binaryHost = await startBinaryHost();
    client = cleanHome(group, undefined, binaryHost.url);
  });
  afterAll(async () => {
    await binaryHost?.close();
    await registry?.stop();
  });

  it('`changeset publish` publishes every public package: real ranges, built files, types, README and LICENSE only', async () => {
    const { env } = cleanHome(hosted, token);
    const published = await run('pnpm', ['changeset', 'publish', '--no-git-tag'], { cwd: repoRoot, env: { ...env, npm_config_registry: hosted } });
    expect(published.code, `${published.stdout}\n${published.stderr}`).toBe(0);
    expect(`${published.stdout}${published.stderr}`).not.toContain(token);
    for (const { name, version } of packages) {
      const doc = (await (await fetch(`${hosted}${name.replace('/', '%2f')}`)).json()) as { versions: Record<string, Record<string, any>> };
      const manifest = doc.versions?.[version];
      expect(manifest, `${name}@${version} on the registry`).toBeDefined();
      for (const kind of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
        for (const [dep, range] of Object.entries<string>(manifest![kind] ?? {})) expect(`${name}: ${dep}@${range}`).not.toMatch(/@(workspace|catalog|link|file):/);
      }
      const files = await tarballFiles(manifest!['dist'].tarball as string);
      expect(files, name).toEqual(expect.arrayContaining(['package/package.json', 'package/README.md', 'package/LICENSE', 'package/dist/index.js', 'package/dist/index.d.ts']));
      // (The CLI also ships the template of `registry-core plugin new`.)
      const shipped = name === 'registry-core' ? /^package\/((dist|bin|templates)\/.*|package\.json|README\.md|LICENSE)$/ : /^package\/((dist|bin)\/.*|package\.json|README\.md|LICENSE)$/;
      expect(files.filter((f) => !shipped.test(f) || f.endsWith('.map') || /\.test\.(js|d\.ts)$/.test(f)), name).toEqual([]);
    }
  }, INSTALL_TIMEOUT);

  it('`npx registry-core@<version> start` in an empty folder serves the zero-config default', async () => {
    const { env } = client;
    const folder = emptyFolder('npx');
    const server = await serve('npx', ['--yes', '--registry', group, `registry-core@${cli.version}`, 'start', '--port', '0'], { cwd: folder, env });
    try {
      expect(server.output()).toContain('zero-config default');
      const health = (await (await fetch(`${server.url}/-/health`)).json()) as { repositories: { name: string }[] };
      expect(health.repositories.map((r) => r.name)).toEqual(expect.arrayContaining(['npm', 'npm-local', 'pypi', 'pypi-local']));
      const npmAnswer = await fetch(`${server.url}/npm-local/-/v1/search?text=anything`);
      expect(npmAnswer.status).toBe(200);
      expect(((await npmAnswer.json()) as { objects: unknown[] }).objects).toEqual([]);
      const pypiAnswer = await fetch(`${server.url}/pypi-local/simple/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
      expect(pypiAnswer.status).toBe(200);
      expect(((await pypiAnswer.json()) as { projects: unknown[] }).projects).toEqual([]);
    } finally {
      await server.stop();
    }
    const npxTrees = path.join(env['npm_config_cache']!, '_npx');
    expect(readdirSync(npxTrees)).toHaveLength(1);
    expect(pointersBack(npxTrees)).toEqual([]);
    // better-sqlite3 came prebuilt from the binary host, not compiled.
    const [tree] = readdirSync(npxTrees);
    expectPrebuilt(path.join(npxTrees, tree!, 'node_modules', 'better-sqlite3'));
    expect(binaryHost.served).toHaveLength(1);
    expect(pointersBack(folder)).toEqual([]);
  }, INSTALL_TIMEOUT);

  it('a plugin published by a third party, `npm install`ed beside the CLI and listed in a config, is loaded; one wanting API 2 is refused by name', async () => {
    // Two third-party plugins, published as their authors would: the example format plugin
    // (written against @registry-core/api alone) and one asking for an API major the host lacks.
    const publisher = cleanHome(hosted, token);
    const raw = path.join(publisher.home, 'raw');
    cpSync(path.join(repoRoot, 'examples', 'raw-format-plugin'), raw, { recursive: true, filter: (src) => !src.includes('node_modules') });
    const rawPkg = JSON.parse(readFileSync(path.join(raw, 'package.json'), 'utf8')) as Record<string, unknown>;
    delete rawPkg['private'];
    delete rawPkg['devDependencies'];
    writeFileSync(path.join(raw, 'package.json'), JSON.stringify({ ...rawPkg, name: '@someone/registry-core-plugin-raw', version: '1.0.0' }, null, 2));
    const future = path.join(publisher.home, 'future');
    cpSync(path.join(repoRoot, 'test', 'kernel', 'fixtures', 'wants-api-2'), future, { recursive: true });
    const futurePkg = JSON.parse(readFileSync(path.join(future, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(future, 'package.json'), JSON.stringify({ ...futurePkg, name: '@someone/registry-core-plugin-future' }, null, 2));
    // A third one as `registry-core plugin new` writes it, built (its prepublishOnly builds it again).
    const made = await runCli(['plugin', 'new', '@someone/registry-core-plugin-blobs', '--format', 'blobs', '--dir', 'blobs'], { cwd: publisher.home });
    expect(made.code, made.stderr).toBe(0);
    const blobs = path.join(publisher.home, 'blobs');
    const modules = path.join(blobs, 'node_modules');
    mkdirSync(path.join(modules, '@registry-core'), { recursive: true });
    mkdirSync(path.join(modules, '@types'), { recursive: true });
    mkdirSync(path.join(modules, '.bin'), { recursive: true });
    symlinkSync(path.join(repoRoot, 'core', 'api'), path.join(modules, '@registry-core', 'api'));
    for (const dependency of ['typescript', '@types/node']) symlinkSync(realpathSync(path.join(repoRoot, 'node_modules', dependency)), path.join(modules, dependency));
    symlinkSync('../typescript/bin/tsc', path.join(modules, '.bin', 'tsc'));
    for (const dir of [raw, future, blobs]) {
      const published = await run('npm', ['publish', '--registry', hosted], { cwd: dir, env: publisher.env });
      expect(published.code, published.stderr).toBe(0);
    }

    const { env } = client;
    const folder = emptyFolder('beside');
    writeFileSync(path.join(folder, 'package.json'), JSON.stringify({ name: 'my-registry', private: true }, null, 2));
    const installed = await run('npm', ['install', '--registry', group, `registry-core@${cli.version}`, '@someone/registry-core-plugin-raw', '@someone/registry-core-plugin-future', '@someone/registry-core-plugin-blobs'], { cwd: folder, env });
    expect(installed.code, installed.stderr).toBe(0);
    expect(pointersBack(folder)).toEqual([]);
    // Prebuilt again: prebuild-install keeps what it downloaded in the npm cache, so the host
    // may not be asked a second time.
    expectPrebuilt(path.join(folder, 'node_modules', 'better-sqlite3'));
    expect(binaryHost.served.length).toBeGreaterThanOrEqual(1);
    writeFileSync(
      path.join(folder, 'registry-core.config.yaml'),
      `plugins:
  - "@someone/registry-core-plugin-raw"
  - "@someone/registry-core-plugin-future"
  - "@someone/registry-core-plugin-blobs"
repositories:
  files: { format: raw, type: hosted }
  blobs-local: { format: blobs, type: hosted }
  blobs: { format: blobs, type: group, members: [blobs-local] }
`,
    );
    // `--version` and `plugin list` of the installed CLI
    const versions = await run('npx', ['registry-core', '--version'], { cwd: folder, env });
    expect(versions.code, versions.stderr).toBe(0);
    const versionLines = versions.stdout.trim().split('\n');
    expect(versionLines[0]).toBe(`registry-core ${cli.version}`);
    for (const { name, version } of packages.filter((p) => p.name.startsWith('@registry-core/') && p.name !== '@registry-core/testing')) expect(versionLines).toContain(`${name} ${version}`);
    const listed = await run('npx', ['registry-core', 'plugin', 'list', '--config', 'registry-core.config.yaml'], { cwd: folder, env });
    expect(listed.code, listed.stderr).toBe(0);
    const api = packages.find((p) => p.name === '@registry-core/api')!.version;
    expect(listed.stdout).toContain(`@registry-core/api ${api} (the plugin API this host provides)`);
    expect(listed.stdout).toMatch(/^active +@someone\/registry-core-plugin-raw@1\.0\.0 +api \^1\.0\.0$/m);
    expect(listed.stdout).toMatch(/^active +@someone\/registry-core-plugin-blobs@0\.1\.0 +api \^1\.\d+\.0$/m);
    expect(listed.stdout).toMatch(new RegExp(`^refused +@someone/registry-core-plugin-future@3\\.1\\.0 +api \\^2\\.0\\.0 +plugin @someone/registry-core-plugin-future wants @registry-core/api \\^2\\.0\\.0, but this host provides ${api.replace(/\./g, '\\.')}$`, 'm'));
    const server = await serve('npx', ['registry-core', 'start', '--config', 'registry-core.config.yaml', '--port', '0'], { cwd: folder, env });
    try {
      expect(server.output()).toContain('plugin @someone/registry-core-plugin-future wants @registry-core/api ^2.0.0, but this host provides');
      const health = (await (await fetch(`${server.url}/-/health`)).json()) as { plugins: { name: string; status: string }[] };
      expect(health.plugins.find((p) => p.name === '@someone/registry-core-plugin-raw')?.status).toBe('active');
      expect(health.plugins.find((p) => p.name === '@someone/registry-core-plugin-future')?.status).toBe('refused');
      const user = await run('npx', ['registry-core', 'user', 'add', 'ops', '--password', 'ops-password-1', '--config', 'registry-core.config.yaml'], { cwd: folder, env });
      expect(user.code, user.stderr).toBe(0);
      const tokenLine = await run('npx', ['registry-core', 'token', 'create', '--user', 'ops', '--config', 'registry-core.config.yaml'], { cwd: folder, env });
      const opsToken = tokenLine.stdout.trim().split('\n').pop()!;
      const put = await fetch(`${server.url}/files/builds/1.0/app.txt`, { method: 'PUT', headers: { authorization: `Bearer ${opsToken}` }, body: 'hello' });
      expect(put.status, await put.text()).toBeLessThan(300);
      const got = await fetch(`${server.url}/files/builds/1.0/app.txt`);
      expect(got.status).toBe(200);
      expect(await got.text()).toBe('hello');
      // The scaffolded format: publish to its hosted repository through the group, read it back.
      const published = await fetch(`${server.url}/blobs/app/1.0.0/app.bin`, { method: 'PUT', headers: { authorization: `Bearer ${opsToken}` }, body: 'built' });
      expect(published.status, await published.text()).toBe(201);
      const read = await fetch(`${server.url}/blobs/app/1.0.0/app.bin`);
      expect(read.status).toBe(200);
      expect(await read.text()).toBe('built');
    } finally {
      await server.stop();
    }
  }, INSTALL_TIMEOUT);
});

/** The file names in an npm tarball (`tar` reads it from standard input). */
async function tarballFiles(url: string): Promise<string[]> {
  const body = Buffer.from(await (await fetch(url)).arrayBuffer());
  const dir = mkdtempSync(path.join(tmpdir(), 'rc-release-tgz-'));
  writeFileSync(path.join(dir, 'p.tgz'), body);
  const listed = await run('tar', ['-tzf', 'p.tgz'], { cwd: dir, env: process.env });
  return listed.stdout.trim().split('\n');
}

