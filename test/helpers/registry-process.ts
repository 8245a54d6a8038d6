import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliBin = path.join(repoRoot, 'cli', 'bin', 'registry-core.js');

/** A registry-core server started as its own process, as an operator would run it. */
export interface RunningRegistry {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly configFile: string;
  readonly process: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM (graceful) and wait for exit; resolves the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `rc-${prefix}-`));
}

/** The URL of the running registry startRegistry started on each config file. */
const running = new Map<string, string>();

/**
 * Write `config` (YAML text) into a fresh folder and start `registry-core start --config`
 * on a free port. `dir` may be given to reuse a data folder across restarts.
 */
export async function startRegistry(config: string | undefined, options: { dir?: string; env?: NodeJS.ProcessEnv; port?: number; args?: readonly string[] } = {}): Promise<RunningRegistry> {
  const dir = options.dir ?? tempDir('registry');
  const configFile = path.join(dir, 'registry-core.config.yaml');
  // In the e2e-postgres project every registry gets a database of its own on the run's
  // PostgreSQL (unless its config names a metadata store itself).
  const postgresUrl = inject('postgresUrl');
  if (postgresUrl && config !== undefined && !/^metadata:/m.test(config) && !options.dir) {
    config = `${config}\nmetadata: { type: postgres, url: "${await createTestDatabase(postgresUrl)}" }\n`;
  }
  // No config: the zero-config default, found by nothing in `dir`.
  if (config !== undefined) writeFileSync(configFile, config);
  const args = config !== undefined ? ['--config', configFile] : [];
  const child = spawn(process.execPath, [cliBin, 'start', ...args, ...(options.args ?? []), '--port', String(options.port ?? 0)], {
    cwd: dir,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`registry did not start in 30 s:\n${output}`)), 30_000);
    const onData = () => {
      // The server's own line (repositories bound to ports of their own log theirs first).
      const m = /registry-core \S+ listening on port (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`registry exited with ${code} before listening:\n${output}`));
    });
  });
  running.set(configFile, `http://127.0.0.1:${port}`);
  void exited.then(() => {
    if (running.get(configFile) === `http://127.0.0.1:${port}`) running.delete(configFile);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    configFile,
    process: child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      // A second SIGTERM means "exit now" to the server: signal only once.
      if (!child.killed) child.kill(signal);
      return exited;
    },
  };
}

let testDatabases = 0;

/** A fresh database on the PostgreSQL at `url`; resolves its URL. */
async function createTestDatabase(url: string): Promise<string> {
  const { default: pg } = await import('pg');
  const name = `rc_e2e_${process.pid}_${++testDatabases}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return url.replace(/\/[^/]*$/, `/${name}`);
}

/** The port a repository with `port:` in its config was bound to, from the server's log. */
export function repositoryPort(registry: RunningRegistry, repository: string): number {
  const m = new RegExp(`repository ${repository} listening on port (\\d+)`).exec(registry.output());
  if (!m) throw new Error(`${repository} has no port of its own:\n${registry.output()}`);
  return Number(m[1]);
}

/** Run the CLI to completion; resolves its exit code and output. */
export function runCli(args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliBin, ...args], { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(options.input ?? '');
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Create a user with the CLI against a config and a token for it; resolves the token. While a
 * registry startRegistry started on that config runs, the token comes from it (the user's own
 * `POST /-/api/tokens` with the password: one request instead of a second CLI process, which
 * costs a second of CPU); else, or if the server refuses, from `registry-core token create`.
 * Both make the same token (described `cli`, read-only if asked).
 */
export async function createUserAndToken(configFile: string, user: string, options: { readOnly?: boolean } = {}): Promise<string> {
  const password = 'correct-horse-battery';
  const added = await runCli(['user', 'add', user, '--password', password, '--config', configFile]);
  if (added.code !== 0 && !/already exists/.test(added.stderr)) throw new Error(`user add failed: ${added.stderr}`);
  const url = running.get(configFile);
  if (url) {
    const answer = await fetch(`${url}/-/api/tokens`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'cli', ...(options.readOnly ? { readOnly: true } : {}) }),
    });
    if (answer.status === 201) return ((await answer.json()) as { token: string }).token;
    await answer.arrayBuffer();
  }
  const created = await runCli(['token', 'create', '--user', user, '--config', configFile, ...(options.readOnly ? ['--read-only'] : [])]);
  if (created.code !== 0) throw new Error(`token create failed: ${created.stderr}`);
  return created.stdout.trim().split('\n').pop()!;
}

/**
 * An HTTP request whose path is sent exactly as given (fetch would resolve `%2e%2e`
 * and `..` before sending, hiding what a hostile client can send).
 */
export function rawRequest(
  url: string,
  rawPath: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: import('node:http').IncomingHttpHeaders; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request({ hostname, port, path: rawPath, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      answered = true;
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    // A server refusing a large body (413) answers and closes while the body is still being
    // sent: the write fails with EPIPE/ECONNRESET, but the answer may already be here.
    req.on('error', (error) => setTimeout(() => (answered ? undefined : reject(error)), 500));
    req.end(options.body);
  });
}

/**
 * Probe until `ok` holds (every `intervalMs`, at most `attempts` times), for effects that
 * land a moment after an answer (a background store, a cache expiring). Resolves the last
 * value either way: the test asserts on it, never on time.
 */
export async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, { attempts = 200, intervalMs = 50 } = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const value = await probe();
    if (ok(value) || attempt >= attempts) return value;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
