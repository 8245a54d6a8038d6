import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditEntry, Registry } from '@registry-core/kernel';
import { memoryStore, type MemoryStorageEntry } from './memory-storage-driver.js';

/** A plugin to load: its package folder (absolute, or relative to the current directory) or package name, with options. */
export type TestHostPlugin = string | { readonly name: string; readonly options?: Readonly<Record<string, unknown>> };

/** What {@link createTestHost} starts. */
export interface TestHostOptions {
  /** Format plugins (and any other plugins) to load, as in the config's `plugins`. */
  readonly plugins: readonly TestHostPlugin[];
  /** The config's `repositories`, as written in a config file (`{ format, type, upstream, members, routing, ... }`). */
  readonly repositories: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The config's `auth` block (`anonymousRead`, `permissions`, ...). Default: the kernel's defaults. */
  readonly auth?: Readonly<Record<string, unknown>>;
  /**
   * Other top-level config keys (`limits`, `cleanup`, ...); `storage`, `metadata` and `dataDir`
   * are the host's, and so are `server.host` and `server.port` (other `server` keys are taken).
   */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Kernel log level. Default `error` (quiet tests); `debug` logs every request. */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** A user made with {@link TestHost.createUser}. */
export interface TestUser {
  readonly name: string;
  readonly password: string;
}

/** An answer of {@link TestHost.rawRequest}: the body whole. */
export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** What is stored: every blob of the memory store, every asset, document and component row. */
export interface StoredState {
  readonly blobs: readonly MemoryStorageEntry[];
  readonly assets: readonly string[];
  readonly documents: readonly string[];
  readonly components: readonly string[];
}

/** A real registry-core kernel running in this process (see {@link createTestHost}). */
export interface TestHost {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  /** The kernel's Registry, for what the helpers below do not cover. */
  readonly registry: Registry;
  /** `<url>/<name>/`: where a repository is mounted. */
  repositoryUrl(name: string): string;
  /** A user in the metadata store (password generated unless given). */
  createUser(name: string, options?: { password?: string; roles?: string[] }): Promise<TestUser>;
  /** A token of an existing user. */
  createToken(user: string, options?: { readOnly?: boolean; repositories?: string[]; packages?: string[] }): Promise<string>;
  /** A new user and a read-write token of it. */
  userToken(name: string, options?: { roles?: string[] }): Promise<string>;
  /** `fetch` against this host: a path (`/repo/...`) or a full URL; `token` becomes `Authorization: Bearer`. */
  fetch(pathOrUrl: string, init?: RequestInit & { token?: string }): Promise<Response>;
  /** An HTTP request whose path is sent exactly as given (fetch would resolve `..` and `%2e%2e` first). */
  rawRequest(rawPath: string, init?: { method?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<RawResponse>;
  /** A snapshot of everything stored, to compare before and after a request that must change nothing. */
  stored(): Promise<StoredState>;
  /** Audit log entries, newest first. */
  audit(query?: { action?: string; repository?: string; user?: string }): Promise<AuditEntry[]>;
  /** Stop listening, close the store and the database, remove the temp folder. Idempotent. */
  stop(): Promise<void>;
}

/** Send `rawPath` as is to `baseUrl`'s host and port. */
export function rawHttpRequest(baseUrl: string, rawPath: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest({ hostname, port, path: rawPath, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', done);
      res.on('error', done);
    });
    // A server refusing a body answers and may close while it is still being sent.
    req.on('error', (error) => setTimeout(() => (answered ? undefined : reject(error)), 200));
    req.end(init.body);
  });
}

/**
 * Start the real kernel in this process: SQLite in memory (`:memory:`, one connection, so
 * nothing touches the disk but a temp folder for request spills), the `memory` storage driver
 * of this package (loaded as a plugin, as an operator's config would name it), the given
 * plugins and repositories, listening on a free loopback port.
 */
export async function createTestHost(options: TestHostOptions): Promise<TestHost> {
  // Loaded here, not at the top: the rest of this package works without the kernel.
  const { normalizeConfig, Registry } = await import('@registry-core/kernel');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'registry-core-test-host-'));
  const storeId = `test-host-${randomUUID()}`;
  const selfDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const plugins = [...options.plugins.map((p) => (typeof p === 'string' && (p.startsWith('.') || path.isAbsolute(p)) ? path.resolve(p) : p)), selfDir];
  const raw = {
    ...options.config,
    dataDir,
    server: { ...(options.config?.['server'] as Record<string, unknown> | undefined), host: '127.0.0.1', port: 0 },
    plugins,
    storage: { default: { driver: 'memory', store: storeId } },
    logging: { level: options.logLevel ?? 'error', format: 'json' },
    ...(options.auth ? { auth: options.auth } : {}),
    repositories: options.repositories,
  };
  const normalized = normalizeConfig(raw, { configDir: process.cwd(), env: process.env });
  // `:memory:` after validation (normalizeConfig would resolve it as a file path).
  const config = { ...normalized, metadata: { type: 'sqlite' as const, path: ':memory:', migrate: true } };
  let registry: Registry;
  try {
    registry = await Registry.create({ config, filepath: undefined, configDir: process.cwd(), zeroConfig: false });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const missing = registry.plugins.records.filter((r) => r.status === 'refused' || r.status === 'failed');
  const unavailable = registry.unavailable;
  if (missing.length > 0 || unavailable.length > 0 || memoryStore(storeId) === undefined) {
    await registry.stop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
    const why = [
      ...missing.map((r) => `plugin ${r.name}: ${r.status}: ${r.reason ?? ''}`),
      ...unavailable.map((u) => `repository ${u.name}: ${u.reason}`),
      ...(memoryStore(storeId) === undefined ? ['the memory storage driver was not loaded'] : []),
    ];
    throw new Error(`createTestHost: the registry cannot serve this config:\n  ${why.join('\n  ')}`);
  }
  const address = await registry.start();
  const url = `http://127.0.0.1:${address.port}`;
  let stopped: Promise<void> | undefined;

  const host: TestHost = {
    url,
    registry,
    repositoryUrl: (name) => `${url}/${name}/`,
    async createUser(name, userOptions = {}) {
      const password = userOptions.password ?? `pw-${randomUUID()}`;
      await registry.auth.addUser(name, password, { roles: userOptions.roles ?? [] });
      return { name, password };
    },
    async createToken(user, tokenOptions = {}) {
      const created = await registry.auth.createToken(user, { description: 'test host', ...tokenOptions });
      return created.token;
    },
    async userToken(name, userOptions = {}) {
      await host.createUser(name, userOptions);
      return host.createToken(name);
    },
    fetch(pathOrUrl, init = {}) {
      const { token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
      const target = /^https?:/.test(pathOrUrl) ? pathOrUrl : `${url}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
      return fetch(target, { ...rest, headers, redirect: rest.redirect ?? 'manual' });
    },
    rawRequest: (rawPath, init) => rawHttpRequest(url, rawPath, init),
    async stored() {
      const metadata = registry.metadata;
      const [assets, documents, components] = await Promise.all([metadata.assets.find(), metadata.documents.find(), metadata.components.find()]);
      const rows = (list: readonly object[]) => list.map((row) => JSON.stringify(row)).sort();
      return {
        blobs: memoryStore(storeId)?.entries() ?? [],
        // Download bookkeeping changes on reads; what is stored is the rest.
        assets: rows(assets.map(({ lastDownloadedAt: _read, ...row }) => row)),
        documents: rows(documents),
        components: rows(components),
      };
    },
    audit: (query = {}) => registry.auth.audit.query(query),
    stop() {
      stopped ??= (async () => {
        try {
          await registry.stop();
        } finally {
          await rm(dataDir, { recursive: true, force: true });
        }
      })();
      return stopped;
    },
  };
  return host;
}
