// An in-memory stand-in for the host, for this plugin's unit tests only (not built):
// routes matched with the host's path-to-regexp, permissions checked, errors mapped to
// the format's error body, and the engine services (assets with digest checks, documents,
// components, a proxy cache over a fake upstream) kept in maps. Hosted and proxy
// repositories only: groups are the kernel's (route plans), tested against real registries.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  ConflictError,
  DELETE_DOCUMENT,
  ForbiddenError,
  IntegrityError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  UpstreamError,
  isRegistryError,
  type Asset,
  type AssetStore,
  type Component,
  type ComponentIndex,
  type Digests,
  type DocumentStore,
  type FormatAuthService,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type KeyValueStore,
  type Logger,
  type Permission,
  type Principal,
  type ProxyCache,
  type PutAssetOptions,
  type RepositoryHandle,
  type RepositoryType,
  type StoredDocument,
} from '@registry-core/api';
import { match } from 'path-to-regexp';

export const HOST = 'http://registry.test';

function digestsOf(bytes: Buffer): Digests {
  const hash = (algorithm: string) => createHash(algorithm).update(bytes).digest('hex');
  return { md5: hash('md5'), sha1: hash('sha1'), sha256: hash('sha256'), sha512: hash('sha512') };
}

async function collect(body: Readable | Buffer): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export class MemoryAssets implements AssetStore {
  readonly items = new Map<string, Asset & { bytes: Buffer }>();

  async get(path: string) {
    return this.items.get(path);
  }

  async put(path: string, body: Readable | Buffer, options: PutAssetOptions): Promise<Asset> {
    if (options.createOnly && this.items.has(path)) {
      if (!Buffer.isBuffer(body)) body.resume();
      throw new ConflictError(`${path} already exists`);
    }
    const bytes = await collect(body);
    if (options.maxBytes !== undefined && bytes.length > options.maxBytes) throw new PayloadTooLargeError(`${path} is over ${options.maxBytes} bytes`);
    const digests = digestsOf(bytes);
    for (const algorithm of ['md5', 'sha1', 'sha256', 'sha512'] as const) {
      const wanted = options.expect?.[algorithm];
      if (wanted && wanted.toLowerCase() !== digests[algorithm]) throw new IntegrityError(`${algorithm} is ${digests[algorithm]}, expected ${wanted}`);
    }
    if (options.expect?.size !== undefined && options.expect.size !== bytes.length) throw new IntegrityError(`size is ${bytes.length}`);
    const now = new Date();
    const asset = {
      path,
      kind: options.kind,
      size: bytes.length,
      digests,
      contentType: options.contentType,
      createdAt: now,
      updatedAt: now,
      attributes: options.attributes ?? {},
      bytes,
      open: async () => Readable.from([bytes]),
      read: async () => bytes,
    };
    this.items.set(path, asset);
    return asset;
  }

  async delete(path: string) {
    return this.items.delete(path);
  }

  async deletePrefix(prefix: string) {
    let count = 0;
    for (const path of [...this.items.keys()]) if (path.startsWith(prefix) && this.items.delete(path)) count++;
    return count;
  }
}

export class MemoryDocuments implements DocumentStore {
  readonly items = new Map<string, { text: string; revision: number; updatedAt: Date }>();
  private queue = Promise.resolve();

  async get<T>(key: string): Promise<StoredDocument<T> | undefined> {
    const row = this.items.get(key);
    return row ? { value: JSON.parse(row.text) as T, revision: row.revision, updatedAt: row.updatedAt } : undefined;
  }

  update<T>(key: string, change: (current: T | undefined) => T | typeof DELETE_DOCUMENT | Promise<T | typeof DELETE_DOCUMENT>) {
    const run = async (): Promise<StoredDocument<T> | undefined> => {
      const row = this.items.get(key);
      const next = await change(row ? (JSON.parse(row.text) as T) : undefined);
      if (next === DELETE_DOCUMENT) {
        this.items.delete(key);
        return undefined;
      }
      const text = JSON.stringify(next);
      if (row && row.text === text) return this.get<T>(key);
      this.items.set(key, { text, revision: (row?.revision ?? 0) + 1, updatedAt: new Date() });
      return this.get<T>(key);
    };
    const result = this.queue.then(run);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async delete(key: string) {
    return this.items.delete(key);
  }
}

export class MemoryComponents implements ComponentIndex {
  readonly items = new Map<string, Component>();

  async upsert(c: { name: string; version: string; attributes?: Record<string, unknown> }) {
    this.items.set(`${c.name}@${c.version}`, { name: c.name, version: c.version, attributes: c.attributes ?? {}, updatedAt: new Date() });
  }

  async remove(name: string, version?: string) {
    let count = 0;
    for (const [key, c] of [...this.items]) if (c.name === name && (version === undefined || c.version === version) && this.items.delete(key)) count++;
    return count;
  }

  async search(query: { text: string; offset?: number; limit: number }) {
    const latest = new Map<string, Component>();
    for (const c of this.items.values()) {
      const text = `${c.name} ${JSON.stringify(c.attributes)}`.toLowerCase();
      if (text.includes(query.text.toLowerCase())) latest.set(c.name, c);
    }
    const all = [...latest.values()].sort((a, b) => a.name.localeCompare(b.name));
    return { total: all.length, items: all.slice(query.offset ?? 0, (query.offset ?? 0) + query.limit) };
  }

  async versions(name: string) {
    return [...this.items.values()].filter((c) => c.name === name);
  }
}

class MemoryKv implements KeyValueStore {
  private readonly items = new Map<string, unknown>();
  async get<T>(key: string) {
    return this.items.get(key) as T | undefined;
  }
  async set<T>(key: string, value: T) {
    this.items.set(key, value);
  }
  async delete(key: string) {
    return this.items.delete(key);
  }
}

/** What the fake upstream server answers for a path (relative to its base URL). */
export interface UpstreamAnswer {
  readonly status: number;
  readonly body?: Buffer | string | object;
}

/** An upstream registry: a function from path to answer, with a log of requests. */
export class FakeUpstream {
  readonly base = 'http://upstream.invalid/registry/';
  readonly requests: string[] = [];
  down = false;
  constructor(public handler: (path: string, method: string, body?: Buffer) => UpstreamAnswer) {}

  call(path: string, method = 'GET', body?: Buffer): { status: number; body: Buffer } {
    this.requests.push(`${method} ${path}`);
    if (this.down) throw new UpstreamError('upstream unreachable');
    const answer = this.handler(path, method, body);
    const raw = answer.body;
    const bytes = raw === undefined ? Buffer.alloc(0) : Buffer.isBuffer(raw) ? raw : Buffer.from(typeof raw === 'string' ? raw : JSON.stringify(raw));
    return { status: answer.status, body: bytes };
  }
}

/** The kernel's proxy cache, simplified: metadata always revalidated, content kept forever. */
class FakeProxyCache implements ProxyCache {
  constructor(
    private readonly upstream: FakeUpstream,
    private readonly assets: MemoryAssets,
  ) {}

  get upstreamUrl() {
    return this.upstream.base;
  }

  private relative(url: string): string {
    const absolute = new URL(url, this.upstream.base);
    if (absolute.origin !== new URL(this.upstream.base).origin) throw new UpstreamError(`refusing to fetch ${url}: not on the upstream's origin`);
    const base = new URL(this.upstream.base).pathname;
    const path = absolute.pathname + absolute.search;
    return path.startsWith(base) ? path.slice(base.length) : path;
  }

  async fetch(original: Parameters<ProxyCache['fetch']>[0]) {
    const stored = await this.assets.get(original.path);
    if (stored && original.kind === 'content') return { found: true as const, asset: stored, cache: 'HIT' as const };
    let request = original;
    if (original.prepare) {
      const prepared = await original.prepare();
      if (!prepared) return { found: false as const, cache: 'MISS' as const };
      request = { ...original, ...prepared };
    }
    let answer: { status: number; body: Buffer };
    try {
      answer = this.upstream.call(this.relative(request.upstreamUrl ?? request.path));
    } catch (error) {
      if (stored) return { found: true as const, asset: stored, cache: 'STALE' as const };
      throw error;
    }
    if (answer.status === 404) return { found: false as const, cache: 'MISS' as const };
    if (answer.status !== 200) {
      if (stored) return { found: true as const, asset: stored, cache: 'STALE' as const };
      throw new UpstreamError(`upstream answered ${answer.status}`);
    }
    try {
      const asset = await this.assets.put(request.path, answer.body, { kind: request.kind, contentType: request.contentType ?? 'application/octet-stream', expect: request.expect });
      return { found: true as const, asset, cache: 'MISS' as const };
    } catch (error) {
      if (isRegistryError(error) && error.code === 'INTEGRITY_MISMATCH') throw new UpstreamError(`upstream content for ${request.path} does not match its announced digest (${error.message})`);
      throw error;
    }
  }

  /** No tee here: the answer is stored first, then served. */
  async serve(request: Parameters<ProxyCache['serve']>[0]) {
    const result = await this.fetch(request);
    if (!result.found) return result;
    return { found: true as const, cache: result.cache, body: { kind: 'asset' as const, asset: result.asset } };
  }

  allows(url: string): boolean {
    try {
      this.relative(url);
      return true;
    } catch {
      return false;
    }
  }

  async passthrough(request: Parameters<ProxyCache['passthrough']>[0]) {
    const answer = this.upstream.call(this.relative(request.upstreamUrl), request.method, request.body);
    return { status: answer.status, headers: {}, body: answer.body };
  }
}

/** A user of the fake registry: which permissions it holds. */
export interface FakeUser {
  readonly name: string;
  readonly permissions: readonly Permission[];
  readonly token?: string;
}

export interface FakeRequest {
  readonly method?: string;
  /** Path inside the repository as sent (percent-encoded), may carry a query. */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  readonly user?: FakeUser;
}

/** A response as a client would see it. */
export interface FakeAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly contentType?: string;
  readonly bytes: Buffer;
  /** The body parsed as JSON when it is JSON. */
  readonly json: any;
  readonly response?: FormatResponse;
}

interface FakeRepository {
  readonly name: string;
  readonly type: RepositoryType;
  readonly config: Record<string, unknown>;
  readonly assets: MemoryAssets;
  readonly documents: MemoryDocuments;
  readonly components: MemoryComponents;
  readonly kv: MemoryKv;
  readonly upstream?: FakeProxyCache;
}

/** Several repositories of one format, served like the host serves them. */
export class FakeRegistry {
  readonly repos = new Map<string, FakeRepository>();
  readonly users = new Map<string, { password: string; tokens: Set<string> }>();
  allowRegistration = true;
  maxUploadBytes = 1024 * 1024;
  maxSearchResults = 50;
  /** What handlers recorded with `ctx.audit`. */
  readonly audited: { action: string; user: string; repository: string; package?: string; version?: string; details?: Readonly<Record<string, unknown>> }[] = [];
  private tokenCount = 0;

  constructor(private readonly format: FormatDefinition) {}

  add(name: string, type: Exclude<RepositoryType, 'group'>, options: { config?: Record<string, unknown>; upstream?: FakeUpstream } = {}): FakeRepository {
    const assets = new MemoryAssets();
    const repo: FakeRepository = {
      name,
      type,
      config: options.config ?? {},
      assets,
      documents: new MemoryDocuments(),
      components: new MemoryComponents(),
      kv: new MemoryKv(),
      upstream: options.upstream ? new FakeProxyCache(options.upstream, assets) : undefined,
    };
    this.format.validateRepository?.({ name, format: this.format.id, type, url: `${HOST}/${name}/`, config: repo.config });
    this.repos.set(name, repo);
    return repo;
  }

  readonly auth: FormatAuthService = {
    login: async (name, password) => {
      const user = this.users.get(name);
      if (!user || user.password !== password) throw new UnauthorizedError('bad user name or password');
      const token = `token-${++this.tokenCount}`;
      user.tokens.add(token);
      return { token };
    },
    addUser: async (name, password) => {
      if (!this.allowRegistration) throw new ForbiddenError('self-registration is disabled on this registry');
      if (this.users.has(name)) throw new ConflictError(`user ${name} already exists`);
      const token = `token-${++this.tokenCount}`;
      this.users.set(name, { password, tokens: new Set([token]) });
      return { token };
    },
    revokeToken: async (token) => {
      for (const user of this.users.values()) if (user.tokens.delete(token)) return true;
      return false;
    },
  };

  private principal(user: FakeUser | undefined): Principal {
    return user
      ? { name: user.name, anonymous: false, roles: [], via: 'token', readOnly: !user.permissions.includes('write'), tokenId: user.token }
      : { name: 'anonymous', anonymous: true, roles: [], via: 'anonymous', readOnly: true };
  }

  private authorize(user: FakeUser | undefined, permission: Permission): void {
    if (permission === 'read') return;
    if (!user) throw new UnauthorizedError();
    if (!user.permissions.includes(permission)) throw new ForbiddenError(`${user.name} may not ${permission}`);
  }

  /** Run a request as the host would, on `repoName`, and read its answer. */
  async request(repoName: string, request: FakeRequest): Promise<FakeAnswer> {
    let response: FormatResponse;
    try {
      response = await this.dispatch(repoName, request, `${HOST}/${repoName}/`);
    } catch (error) {
      if (!isRegistryError(error)) throw error;
      const rendered = this.format.errorBody!({ status: error.status, code: error.code, message: error.message });
      const headers: Record<string, string> = { ...error.headers };
      if (error.status === 401) headers['www-authenticate'] = this.format.authChallenge!({ name: repoName, format: 'npm', type: this.repos.get(repoName)!.type, url: `${HOST}/${repoName}/`, config: {} })!;
      return { status: error.status, headers, contentType: rendered.contentType, bytes: Buffer.from(rendered.body), json: JSON.parse(rendered.body) };
    }
    return this.read(response);
  }

  async read(response: FormatResponse): Promise<FakeAnswer> {
    const body = response.body;
    let bytes = Buffer.alloc(0);
    let contentType: string | undefined;
    if (body?.kind === 'json') {
      bytes = Buffer.from(JSON.stringify(body.value));
      contentType = body.contentType ?? 'application/json';
    } else if (body?.kind === 'buffer' || body?.kind === 'text') {
      bytes = Buffer.from(body.value);
      contentType = body.contentType;
    } else if (body?.kind === 'asset') {
      bytes = await collect(await body.asset.open());
      contentType = body.asset.contentType;
    } else if (body?.kind === 'stream') {
      bytes = await collect(body.value);
      contentType = body.contentType;
    }
    let json: unknown;
    try {
      json = bytes.length ? JSON.parse(bytes.toString('utf8')) : undefined;
    } catch {
      json = undefined;
    }
    const headers = Object.fromEntries(Object.entries(response.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    if (response.cache) headers['x-cache'] = response.cache;
    return { status: response.status ?? 200, headers, contentType, bytes, json, response };
  }

  private async dispatch(repoName: string, request: FakeRequest, baseUrl: string): Promise<FormatResponse> {
    const repo = this.repos.get(repoName);
    if (!repo) throw new Error(`no repository ${repoName}`);
    const method = request.method ?? 'GET';
    const [rawPath, search] = request.path.split('?', 2) as [string, string | undefined];
    let found: { route: FormatDefinition['routes'][number]; params: Record<string, string | string[] | undefined> } | undefined;
    for (const route of this.format.routes) {
      const methods = typeof route.method === 'string' ? [route.method] : route.method;
      const result = match(route.path, {
        decode: (v: string) => {
          try {
            return decodeURIComponent(v);
          } catch {
            return v;
          }
        },
      })(rawPath);
      if (result && methods.includes((method === 'HEAD' ? 'GET' : method) as never)) {
        found = { route, params: result.params as Record<string, string | string[] | undefined> };
        break;
      }
    }
    if (!found) throw new NotFoundError(`no such endpoint: ${method} ${rawPath}`);
    const permission = found.route.permission;
    // As the host does: the route's permission is checked before its handler runs.
    if (permission !== 'none') this.authorize(request.user, permission);
    const headers: Record<string, string | undefined> = { ...Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])) };
    if (request.user?.token) headers['authorization'] ??= `Bearer ${request.user.token}`;
    const handle: RepositoryHandle = {
      name: repo.name,
      format: this.format.id,
      type: repo.type,
      config: repo.config,
      limits: { maxUploadBytes: this.maxUploadBytes, maxSearchResults: this.maxSearchResults },
      assets: repo.assets,
      documents: repo.documents,
      components: repo.components,
      kv: repo.kv,
      upstream: repo.upstream,
    };
    const body = found.route.body?.kind === 'stream' && Buffer.isBuffer(request.body) ? Readable.from([request.body]) : request.body;
    const ctx: FormatRequestContext = {
      repository: handle,
      method,
      path: rawPath,
      params: found.params,
      query: new URLSearchParams(search ?? ''),
      headers,
      body,
      principal: this.principal(request.user),
      baseUrl,
      clientAddress: '127.0.0.1',
      requestId: 'test',
      logger: silentLogger,
      // As the host does: logout revokes only a token of the requesting user.
      auth: {
        ...this.auth,
        revokeToken: async (token) => (request.user ? (this.users.get(request.user.name)?.tokens.delete(token) ?? false) : false),
      },
      viaGroup: false,
      authorize: (p) => this.authorize(request.user, p),
      allowed: (p) => {
        try {
          this.authorize(request.user, p);
          return true;
        } catch {
          return false;
        }
      },
      audit: async (action, fields) => {
        this.audited.push({ action, user: request.user?.name ?? 'anonymous', repository: repo.name, ...fields });
      },
    };
    return found.route.handler(ctx);
  }
}

const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
