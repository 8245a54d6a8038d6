import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Where the harness's registry is, as a client of the format sees it. */
export interface CrashTarget {
  /** The server's origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The repository (hosted `local`, or the group `all` over it) URL, ending in `/`. */
  readonly repositoryUrl: string;
  /** A write token of the user `alice`; `undefined` for an anonymous read. */
  readonly token?: string;
}

/** One publish: version `version` of `name`, its artifact carrying `content` (unique per publish). */
export interface CrashPackage {
  readonly name: string;
  readonly version: string;
  readonly content: Buffer;
}

/** What the format's client was answered, for its last request. */
export interface CrashPublishResult {
  /** True when the client would report success. */
  readonly ok: boolean;
  readonly status: number;
  readonly detail?: string;
}

/**
 * A format under the crash-point harness, speaking its own HTTP protocol as its clients
 * do (see `describeCrashPoints`).
 */
export interface CrashPointAdapter {
  readonly name: string;
  /** The `registry-core` command's script (`cli/bin/registry-core.js`), run with this Node. */
  readonly cli: string;
  /** Plugin package folder for the config's `plugins:`; omitted for first-party formats found by the CLI. */
  readonly plugin?: string;
  readonly format: string;
  /** Valid package names from bases such as `rc-crash-3` (default: the base). */
  packageName?(base: string): string;
  /**
   * Run the whole publish as the client sends it (every request, in order), stopping at the
   * first that fails; a request the dead server never answers is a failure (resolve
   * `{ ok: false }` or throw).
   */
  publish(target: CrashTarget, pkg: CrashPackage): Promise<CrashPublishResult>;
  /** The versions the name's metadata lists (404: none). */
  readVersions(target: CrashTarget, name: string): Promise<{ readonly status: number; readonly versions?: readonly string[] }>;
  /** Download the version's artifact (the file its client fetches to install it). */
  readArtifact(target: CrashTarget, name: string, version: string): Promise<{ readonly status: number; readonly bytes?: Buffer }>;
  /** The bytes `readArtifact` must serve once `pkg` is published. */
  artifact(pkg: CrashPackage): Buffer;
  /**
   * For a publish that had landed before the crash: whether the retry's answer is the
   * format's "this version is already published" (npm's 403, PyPI's "File already
   * exists."), which its clients report as such. Default: none is (the retry must succeed).
   */
  alreadyPublished?(result: CrashPublishResult): boolean;
  /** Extra keys of the hosted repository's config. */
  readonly repositoryConfig?: Readonly<Record<string, unknown>>;
}

/** A registry process of the harness. */
interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

const START_TIMEOUT_MS = 30_000;

function startServer(cli: string, dir: string, env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [cli, 'start', '--config', path.join(dir, 'registry-core.config.yaml'), '--port', '0'], {
    cwd: dir,
    env: { ...process.env, REGISTRY_CORE_CRASH_AT: '', REGISTRY_CORE_CRASH_TRACE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`registry did not start in 30 s:\n${output}`)), START_TIMEOUT_MS);
    child.stdout!.on('data', () => {
      const m = /registry-core \S+ listening on port (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${m[1]}`, child, exited, output: () => output });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`registry exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGTERM');
  await server.exited;
}

function runCli(cli: string, dir: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args, '--config', path.join(dir, 'registry-core.config.yaml')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What one crash left wrong, in words (empty: nothing). */
async function halfVisible(adapter: CrashPointAdapter, server: Server, token: string, pkg: CrashPackage): Promise<{ problems: string[]; listed: boolean }> {
  const problems: string[] = [];
  let listedAnywhere = false;
  for (const repository of ['local', 'all']) {
    for (const who of [token, undefined]) {
      const target: CrashTarget = { url: server.url, repositoryUrl: `${server.url}/${repository}/`, ...(who ? { token: who } : {}) };
      const label = `${repository}${who ? '' : ' (anonymous)'}`;
      const versions = await adapter.readVersions(target, pkg.name);
      if (versions.status !== 200 && versions.status !== 404) problems.push(`${label}: metadata answered ${versions.status}`);
      const listed = versions.status === 200 && (versions.versions ?? []).includes(pkg.version);
      listedAnywhere ||= listed;
      const artifact = await adapter.readArtifact(target, pkg.name, pkg.version);
      if (listed && (artifact.status !== 200 || !artifact.bytes?.equals(adapter.artifact(pkg)))) {
        problems.push(`${label}: the metadata lists ${pkg.version}, but its artifact answers ${artifact.status}${artifact.status === 200 ? ' with other bytes' : ''}`);
      }
      if (!listed && artifact.status !== 404) problems.push(`${label}: ${pkg.version} is not listed, but its artifact answers ${artifact.status} (expected 404)`);
    }
  }
  return { problems, listed: listedAnywhere };
}

/**
 * The crash-point suite every format runs: a real registry process (the CLI) publishes
 * once (after a first publish, so what happens once per data folder is not counted as a
 * step) while the kernel traces the crash points it passes (`REGISTRY_CORE_CRASH_TRACE`),
 * then, for each of those steps, a fresh publish is killed there
 * (`REGISTRY_CORE_CRASH_AT=<point>#<n>`, SIGKILL), the registry restarts on the same data,
 * and both promises of a publish are checked: nothing half-visible (the artifact is served,
 * with its bytes, exactly when the metadata lists the version, in the hosted repository
 * and through a group, with a token and anonymously), and the same publish retried
 * succeeds at once (or, when it had landed, is answered as already published) and is then
 * served whole.
 */
export function describeCrashPoints(adapter: CrashPointAdapter, options: { timeoutMs?: number } = {}): void {
  const name = (base: string) => adapter.packageName?.(base) ?? base;
  describe(`crash points: ${adapter.name}`, () => {
    let dir: string;
    let token: string;

    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), `rc-crash-${adapter.format}-`));
      const hosted = JSON.stringify({ format: adapter.format, type: 'hosted', ...adapter.repositoryConfig });
      writeFileSync(
        path.join(dir, 'registry-core.config.yaml'),
        [
          ...(adapter.plugin ? [`plugins: [${JSON.stringify(adapter.plugin)}]`] : []),
          'auth: { anonymousRead: true }',
          'repositories:',
          `  local: ${hosted}`,
          `  all: { format: ${JSON.stringify(adapter.format)}, type: group, members: [local] }`,
          '',
        ].join('\n'),
      );
      const added = await runCli(adapter.cli, dir, ['user', 'add', 'alice', '--password', 'correct-horse-battery']);
      if (added.code !== 0) throw new Error(`user add failed: ${added.stderr}`);
      const created = await runCli(adapter.cli, dir, ['token', 'create', '--user', 'alice']);
      if (created.code !== 0) throw new Error(`token create failed: ${created.stderr}`);
      token = created.stdout.trim().split('\n').pop()!;
    }, options.timeoutMs ?? 120_000);

    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('a crash at each step of a publish leaves nothing half-visible, and the retried publish succeeds at once', async () => {
      // A first publish on a server of its own: what happens once per data folder (a
      // signing key created, a table first written) is not a step of every publish.
      const warming = await startServer(adapter.cli, dir, {});
      try {
        const warm = await adapter.publish({ url: warming.url, repositoryUrl: `${warming.url}/local/`, token }, { name: name('rc-crash-warm'), version: '1.0.0', content: randomBytes(16) });
        expect(warm.ok, `the first publish failed: ${warm.status} ${warm.detail ?? ''}`).toBe(true);
      } finally {
        await stopServer(warming);
      }
      // The steps: the crash points one publish passes, in order.
      const traceFile = path.join(dir, 'crash-trace.txt');
      const tracing = await startServer(adapter.cli, dir, { REGISTRY_CORE_CRASH_TRACE: traceFile });
      const traced: CrashPackage = { name: name('rc-crash-trace'), version: '1.0.0', content: randomBytes(16) };
      let published: CrashPublishResult;
      try {
        published = await adapter.publish({ url: tracing.url, repositoryUrl: `${tracing.url}/local/`, token }, traced);
      } finally {
        await stopServer(tracing);
      }
      expect(published.ok, `the traced publish failed: ${published.status} ${published.detail ?? ''}`).toBe(true);
      const steps = existsSync(traceFile) ? readFileSync(traceFile, 'utf8').split('\n').filter(Boolean) : [];
      expect(steps.length, 'a publish passes at least one crash point').toBeGreaterThan(0);
      console.info(`${adapter.name}: ${steps.length} steps of a publish: ${steps.join(', ')}`);

      const failures: string[] = [];
      for (const [i, step] of steps.entries()) {
        const pkg: CrashPackage = { name: name(`rc-crash-${i}`), version: '1.0.0', content: randomBytes(16) };
        const dying = await startServer(adapter.cli, dir, { REGISTRY_CORE_CRASH_AT: step });
        const attempt = await adapter.publish({ url: dying.url, repositoryUrl: `${dying.url}/local/`, token }, pkg).catch((error: unknown) => ({ ok: false, status: 0, detail: String(error) }));
        const exit = await Promise.race([dying.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
        if (exit?.signal !== 'SIGKILL') {
          await stopServer(dying);
          failures.push(`${step}: the publish (${attempt.status}) did not reach this point: the steps of a publish must not depend on the name`);
          continue;
        }
        const server = await startServer(adapter.cli, dir, {});
        try {
          const after = await halfVisible(adapter, server, token, pkg);
          for (const problem of after.problems) failures.push(`${step}, after the crash: ${problem}`);
          const target: CrashTarget = { url: server.url, repositoryUrl: `${server.url}/local/`, token };
          const retry = await adapter.publish(target, pkg);
          const accepted = retry.ok || (after.listed && adapter.alreadyPublished?.(retry) === true);
          if (!accepted) failures.push(`${step}: the retried publish was refused: ${retry.status} ${retry.detail ?? ''}`);
          const done = await halfVisible(adapter, server, token, pkg);
          for (const problem of done.problems) failures.push(`${step}, after the retry: ${problem}`);
          if (!done.listed) failures.push(`${step}: after the retry, ${pkg.version} is not listed`);
        } finally {
          await stopServer(server);
        }
      }
      expect(failures, `steps: ${steps.join(', ')}`).toEqual([]);
    }, options.timeoutMs ?? 600_000);
  });
}
