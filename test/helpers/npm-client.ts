import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Result of a client command. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, env: options.env, maxBuffer: 64 * 1024 * 1024, timeout: 180_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The part of a registry URL npm keys credentials by ("nerf dart"): `//host:port/path/`. */
export function nerfDart(registryUrl: string): string {
  const u = new URL(registryUrl);
  return `//${u.host}${u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`}`;
}

/**
 * A real npm (and pnpm) client with its own user config and cache, pointed at one
 * registry URL, so tests never touch the machine's own npm settings.
 */
export class NpmClient {
  readonly home: string;
  readonly userconfig: string;
  readonly cache: string;

  constructor(
    readonly registry: string,
    token?: string,
  ) {
    this.home = mkdtempSync(path.join(tmpdir(), 'rc-npm-'));
    this.userconfig = path.join(this.home, '.npmrc');
    this.cache = path.join(this.home, 'cache');
    this.setToken(token);
  }

  setToken(token: string | undefined): void {
    const lines = [`registry=${this.registry}`, 'audit=false', 'fund=false', 'update-notifier=false', 'replace-registry-host=never'];
    if (token) lines.push(`${nerfDart(this.registry)}:_authToken=${token}`);
    writeFileSync(this.userconfig, `${lines.join('\n')}\n`);
  }

  private env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^npm_|^NPM_|^PNPM_|^pnpm_/.test(k)) env[k] = v;
    return { ...env, npm_config_userconfig: this.userconfig, npm_config_cache: this.cache, HOME: this.home, CI: 'true' };
  }

  npm(args: string[], cwd = this.home): Promise<CommandResult> {
    return run('npm', args, { cwd, env: this.env() });
  }

  /**
   * Run npm on a pseudo-terminal (util-linux `script`), answering its prompts: npm reads
   * user names and passwords only from a TTY. `answers` maps a prompt's text to the reply.
   */
  npmInteractive(args: string[], answers: ReadonlyArray<readonly [RegExp, string]>): Promise<CommandResult> {
    const quoted = ['npm', ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    return new Promise((resolve) => {
      const child = spawn('script', ['-q', '-e', '-c', quoted, '/dev/null'], { cwd: this.home, env: this.env(), stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let answered = 0;
      let seen = 0; // prompts are looked for only in text after the last answer
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        // eslint-disable-next-line no-control-regex
        stdout += d.toString().replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
        const next = answers[answered];
        if (next && next[0].test(stdout.slice(seen))) {
          answered++;
          seen = stdout.length;
          child.stdin.write(`${next[1]}\n`);
        }
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 1, stdout, stderr });
      });
    });
  }

  /** yarn v1 (from the test package's devDependencies), with its own cache. */
  yarn(args: string[], cwd = this.home): Promise<CommandResult> {
    const yarn = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', 'yarn');
    return run(yarn, [...args, `--registry=${this.registry}`, `--cache-folder=${path.join(this.home, 'yarn-cache')}`, '--non-interactive', '--no-progress'], {
      cwd,
      env: { ...this.env(), YARN_IGNORE_PATH: '1' },
    });
  }

  pnpm(args: string[], cwd = this.home): Promise<CommandResult> {
    return run('pnpm', [...args, `--store-dir=${path.join(this.home, 'pnpm-store')}`], { cwd, env: this.env() });
  }

  /** Clear npm's HTTP cache, so the next command asks the registry again. */
  clearCache(): void {
    rmSync(this.cache, { recursive: true, force: true });
  }
}

/** Write a package folder with a package.json and an index.js; resolves its folder. */
export function makePackage(manifest: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rc-pkg-'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(path.join(dir, 'index.js'), `module.exports = ${JSON.stringify(`${manifest['name']}@${manifest['version']}`)};\n`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** A fresh project folder depending on `dependencies`. */
export function makeProject(dependencies: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rc-project-'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies }, null, 2));
  return dir;
}
