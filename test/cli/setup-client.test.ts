// `registry-core setup <repository> --client C --write`: the clients' own configuration files
// merged (a backup of each first), then used by the real clients: npm publishes and installs
// with the written ~/.npmrc, twine uploads with ~/.pypirc, pip downloads through pip.conf, cargo and the go command
// work from the files written for them; skopeo pushes with Docker's config.json and podman's auth.json, mvn deploys and
// resolves through settings.xml, poetry publishes with its config.toml and auth.toml. NuGet.Config, .condarc and uv.toml
// are checked as written (no dotnet, conda or uv here; Debian's nuget 2.8 speaks no v3 feed).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cargoClient, crateProject } from '../helpers/cargo.js';
import { moduleZip, runGo } from '../helpers/go.js';
import { makePackage } from '../helpers/npm-client.js';
import { LOCAL_M2, PLUGINS, mvn, serveMavenFolder, writeJarProject } from '../helpers/maven.js';
import { BlobSet, run as runTool, writeLayout } from '../helpers/oci.js';
import { POETRY, PYTHON, TWINE, buildProject, run } from '../helpers/python.js';
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
  let central: Awaited<ReturnType<typeof serveMavenFolder>>;

  beforeAll(async () => {
    central = await serveMavenFolder(LOCAL_M2);
    registry = await startRegistry(`repositories:
  oci-local: { format: oci, type: hosted }
  maven-local: { format: maven, type: hosted }
  central-proxy: { format: maven, type: proxy, upstream: "${central.url}" }
  maven: { format: maven, type: group, members: [maven-local, central-proxy] }
  nuget-local: { format: nuget, type: hosted }
  conda-local: { format: conda, type: hosted }
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
    await central?.close();
  });

  it('prints the files without --write, changing nothing', async () => {
    const printed = await runCli(['setup', 'npm-local', '--client', 'npm', '--home', home, '--config', registry.configFile]);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toContain(`registry=${registry.url}/npm-local/`);
    expect(printed.stdout).toContain('_authToken=${NPM_TOKEN}');
    expect(existsSync(path.join(home, '.npmrc'))).toBe(false);
    const unknown = await runCli(['setup', 'npm-local', '--client', 'mvn', '--config', registry.configFile]);
    // The token appears only when the user passed it.
    const docker = await runCli(['setup', 'oci-local', '--client', 'docker', '--token', token, '--home', home, '--config', registry.configFile]);
    expect(docker.stdout).toContain(Buffer.from(`__token__:${token}`).toString('base64'));
    const noToken = await runCli(['setup', 'oci-local', '--client', 'docker', '--write', '--home', home, '--config', registry.configFile], { env: { REGISTRY_CORE_TOKEN: '' } });
    expect(noToken.code).not.toBe(0);
    expect(noToken.stderr).toContain('carries a token: pass --token');
    const mavenLines = await runCli(['setup', 'maven', '--client', 'mvn', '--home', home, '--config', registry.configFile], { env: { REGISTRY_CORE_TOKEN: '' } });
    expect(mavenLines.stdout).toContain('<mirrorOf>*</mirrorOf>');
    expect(mavenLines.stdout).not.toContain('<password>');
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
    expect(shown.install).toEqual(['cargo add rc-setup-crate@0.1.0 --registry cargo-local']);
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

  /** `file` in `home` holds `before`; `setup <repository> --client <client> --write` merges into it: its text, and the backup. */
  async function writeOver(relative: string, before: string, repository: string, client: string, withToken = true): Promise<string> {
    const file = path.join(home, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, before);
    const written = await runCli(['setup', repository, '--client', client, '--write', ...(withToken ? ['--token', token] : []), '--home', home, '--config', registry.configFile], { env: { REGISTRY_CORE_TOKEN: '' } });
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).not.toContain(token);
    const backups = readdirSync(path.dirname(file)).filter((f) => f.startsWith(`${path.basename(file)}.bak-`));
    expect(backups).toHaveLength(1);
    expect(readFileSync(path.join(path.dirname(file), backups[0]!), 'utf8')).toBe(before);
    if (withToken) expect(statSync(file).mode & 0o777).toBe(0o600);
    return readFileSync(file, 'utf8');
  }

  it("merges Docker's config.json and podman's auth.json: skopeo pushes with either alone", async () => {
    const host = new URL(registry.url).host;
    const auth = Buffer.from(`__token__:${token}`).toString('base64');
    const dockerConfig = await writeOver('.docker/config.json', '{\n  "auths": {\n    "other.invalid": { "auth": "eDp5" }\n  },\n  "detachKeys": "ctrl-x"\n}\n', 'oci-local', 'docker');
    expect(JSON.parse(dockerConfig)).toEqual({ auths: { 'other.invalid': { auth: 'eDp5' }, [host]: { auth } }, detachKeys: 'ctrl-x' });
    const written = await runCli(['setup', 'oci-local', '--client', 'podman', '--write', '--token', token, '--home', home, '--config', registry.configFile]);
    expect(written.code, written.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(home, '.config', 'containers', 'auth.json'), 'utf8'))).toEqual({ auths: { [host]: { auth } } });
    const layout = tempDir('setup-oci');
    const blobs = new BlobSet();
    const image = blobs.image({ arch: 'amd64', layers: 1 });
    writeLayout(layout, blobs, [{ ...image.descriptor, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }]);
    // skopeo finds its credentials in the home folder only: podman's auth.json, else Docker's config.json.
    const push = async (userHome: string, tag: string) => {
      const runtime = tempDir('setup-xdg-runtime');
      return runTool('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${host}/oci-local/setup-demo:${tag}`], { env: { HOME: userHome, XDG_RUNTIME_DIR: runtime, XDG_CONFIG_HOME: '', REGISTRY_AUTH_FILE: '' } });
    };
    const podmanHome = tempDir('setup-podman-home');
    mkdirSync(path.join(podmanHome, '.config', 'containers'), { recursive: true });
    writeFileSync(path.join(podmanHome, '.config', 'containers', 'auth.json'), readFileSync(path.join(home, '.config', 'containers', 'auth.json')));
    const dockerHome = tempDir('setup-docker-home');
    mkdirSync(path.join(dockerHome, '.docker'));
    writeFileSync(path.join(dockerHome, '.docker', 'config.json'), dockerConfig);
    const denied = await push(tempDir('setup-no-auth-home'), 'v0');
    expect(denied.code).not.toBe(0);
    for (const [userHome, tag] of [[podmanHome, 'v1'], [dockerHome, 'v2']] as const) {
      const pushed = await push(userHome, tag);
      expect(pushed.code, pushed.stderr).toBe(0);
    }
    const tags = (await (await fetch(`${registry.url}/v2/oci-local/setup-demo/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags.sort()).toEqual(['v1', 'v2']);
  });

  it('merges settings.xml: mvn deploys with its <server> and resolves through its <mirror>', async () => {
    const before = '<?xml version="1.0" encoding="UTF-8"?>\n<!-- mine -->\n<settings>\n  <offline>false</offline>\n  <servers>\n    <server>\n      <id>elsewhere</id>\n      <password>keep-me</password>\n    </server>\n  </servers>\n</settings>\n';
    const settings = await writeOver('.m2/settings.xml', before, 'maven', 'mvn');
    expect(settings).toBe(
      `<?xml version="1.0" encoding="UTF-8"?>\n<!-- mine -->\n<settings>\n  <offline>false</offline>\n  <servers>\n    <server>\n      <id>elsewhere</id>\n      <password>keep-me</password>\n    </server>\n    <server>\n      <id>maven</id>\n      <username>__token__</username>\n      <password>${token}</password>\n    </server>\n  </servers>\n  <mirrors>\n    <mirror>\n      <id>maven</id>\n      <mirrorOf>*</mirrorOf>\n      <url>${registry.url}/maven/</url>\n    </mirror>\n  </mirrors>\n</settings>\n`,
    );
    // mvn with that file alone and an empty local repository: the plugins come through the mirror.
    const work = tempDir('setup-mvn');
    const local = path.join(work, 'm2');
    mkdirSync(path.join(work, 'classes'));
    writeFileSync(path.join(work, 'classes', 'demo.txt'), 'demo');
    const jar = await runTool('jar', ['cf', path.join(work, 'demo.jar'), '-C', path.join(work, 'classes'), '.']);
    expect(jar.code, jar.stderr).toBe(0);
    const settingsFile = path.join(home, '.m2', 'settings.xml');
    const deployPlugin = `org.apache.maven.plugins:maven-deploy-plugin:${PLUGINS['maven-deploy-plugin']}:deploy-file`;
    const coordinates = ['-DgroupId=rc.setup', '-DartifactId=demo', '-Dversion=1.0.0', '-Dpackaging=jar', '-DgeneratePom=true'];
    const deployed = await mvn(work, settingsFile, local, [deployPlugin, `-Dfile=${path.join(work, 'demo.jar')}`, ...coordinates, '-DrepositoryId=maven', `-Durl=${registry.url}/maven/`]);
    expect(deployed.code, deployed.output).toBe(0);
    // A project depending on it compiles: the jar came through the mirror too.
    const consumer = path.join(work, 'consumer');
    writeJarProject(consumer, { groupId: 'rc.consumer', artifactId: 'consumer', version: '1.0.0' }, { deps: [{ groupId: 'rc.setup', artifactId: 'demo', version: '1.0.0' }] });
    const compiled = await mvn(consumer, settingsFile, local, ['-q', 'compile']);
    expect(compiled.code, compiled.output).toBe(0);
    expect(readFileSync(path.join(local, 'rc', 'setup', 'demo', '1.0.0', 'demo-1.0.0.jar'))).toEqual(readFileSync(path.join(work, 'demo.jar')));
  });

  it('merges NuGet.Config, .condarc and uv.toml, writes the Gradle init script, and refuses a file it cannot merge safely', async () => {
    const nuget = await writeOver('.nuget/NuGet/NuGet.Config', '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <packageSources>\n    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />\n  </packageSources>\n</configuration>\n', 'nuget-local', 'nuget');
    expect(nuget).toBe(
      `<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <packageSources>\n    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />\n    <add key="nuget-local" value="${registry.url}/nuget-local/v3/index.json" protocolVersion="3" allowInsecureConnections="true" />\n  </packageSources>\n  <packageSourceCredentials>\n    <nuget-local>\n      <add key="Username" value="__token__" />\n      <add key="ClearTextPassword" value="${token}" />\n    </nuget-local>\n  </packageSourceCredentials>\n</configuration>\n`,
    );
    const condarc = await writeOver('.condarc', '# mine\nchannels:\n  - conda-forge\nshow_channel_urls: true\n', 'conda-local', 'conda', false);
    expect(condarc).toBe(`# mine\nchannels:\n  - conda-forge\n  - ${registry.url}/conda-local\nshow_channel_urls: true\n`);
    const uv = await writeOver('.config/uv/uv.toml', 'native-tls = true\n', 'pypi-local', 'uv');
    const index = new URL(`${registry.url}/pypi-local/simple/`);
    [index.username, index.password] = ['__token__', token];
    expect(uv).toBe(`native-tls = true\n\n[[index]]\nname = "registry-core-pypi-local"\nurl = "${index.href}"\npublish-url = "${registry.url}/pypi-local/"\n`);
    // Gradle's init script is the format's own file, replaced whole (the previous one backed up).
    const script = await writeOver('.gradle/init.d/registry-core-maven.gradle', '// an older one\n', 'maven', 'gradle');
    expect(script).toContain(`url = '${registry.url}/maven/'\n      allowInsecureProtocol = true\n      credentials { username = '__token__'; password = '${token}' }`);
    expect(script).toContain('settingsEvaluated { settings -> registryCore(settings.pluginManagement.repositories) }');
    // An XML file of another shape is left alone, with a message saying why.
    const file = path.join(home, '.m2', 'settings.xml');
    writeFileSync(file, '<project><modelVersion>4.0.0</modelVersion></project>\n');
    const refused = await runCli(['setup', 'maven', '--client', 'mvn', '--write', '--token', token, '--home', home, '--config', registry.configFile]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('its root element is <project>, not <settings>');
    expect(refused.stderr).not.toContain(token);
    expect(readFileSync(file, 'utf8')).toBe('<project><modelVersion>4.0.0</modelVersion></project>\n');
  });

  it("writes poetry's config.toml and auth.toml: poetry publishes with them", async () => {
    const written = await runCli(['setup', 'pypi-local', '--client', 'poetry', '--write', '--token', token, '--home', home, '--config', registry.configFile]);
    expect(written.code, written.stderr).toBe(0);
    expect(readFileSync(path.join(home, '.config', 'pypoetry', 'config.toml'), 'utf8')).toBe(`[repositories.registry-core-pypi-local]\nurl = "${registry.url}/pypi-local/"\n`);
    expect(statSync(path.join(home, '.config', 'pypoetry', 'auth.toml')).mode & 0o777).toBe(0o600);
    const project = await buildProject({ name: 'rc-setup-poetry', version: '1.0.0', module: 'rc_setup_poetry' });
    writeFileSync(path.join(project.dir, 'pyproject.toml'), '[tool.poetry]\nname = "rc-setup-poetry"\nversion = "1.0.0"\ndescription = ""\nauthors = []\n');
    // No keyring: poetry reads the credentials from auth.toml.
    const published = await run(POETRY, ['publish', '--no-interaction', '-r', 'registry-core-pypi-local'], { cwd: project.dir, home, env: { PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring', XDG_CONFIG_HOME: path.join(home, '.config'), POETRY_CACHE_DIR: path.join(home, '.poetry-cache') } });
    expect(published.code, published.stdout + published.stderr).toBe(0);
    const simple = await (await fetch(`${registry.url}/pypi-local/simple/rc-setup-poetry/`)).text();
    expect(simple).toContain(path.basename(project.wheel));
  });
});
