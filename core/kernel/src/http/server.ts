import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Koa, { type Context } from 'koa';
import { NotFoundError, isRegistryError, type HostRootAddress, type HostRootRoute, type Logger, type Principal, type RepositoryInfo } from '@registry-core/api';
import { ANONYMOUS, type Authentication } from '../auth/authentication.js';
import { WorkerLink } from '../cluster/worker-link.js';
import type { ServerConfig } from '../config/types.js';
import type { DownloadEvent } from '../analytics/download-counter.js';
import type { AccessLog } from '../analytics/access-log.js';
import type { RegistryMetrics, RequestLabels } from '../analytics/metrics.js';
import type { DownloadRecorder } from '../analytics/served-downloads.js';
import type { AccountsAdminApi } from './accounts-admin-api.js';
import type { AdminApi } from './admin-api.js';
import type { MaintenanceAdminApi } from './maintenance-admin-api.js';
import type { BrowseApi } from './browse-api.js';
import type { WebAppHost } from './web-app.js';
import type { WebSessions } from './web-session.js';
import type { LoopMarker } from '../engine/self-upstream.js';
import { ConnectionGuard } from './connection-guard.js';
import { repositoryInfo, type AccessDecision, type Dispatcher, type RepositoryRuntime } from './dispatcher.js';
import { HostRouter } from './host-router.js';
import type { HotAnswers, HotRequest, Replay } from './hot-answers.js';
import { DirectReplies } from './direct-replies.js';
import { writeResponse, type HotCandidate } from './respond.js';

/** Headers of one request or connection, never replayed by the hot path. */
/** With `server.workers`, every answer names the worker (slot) that gave it. */
const WORKER_HEADER = 'x-registry-core-worker';
/** Milliseconds an idle keep-alive connection is kept open. */
const KEEP_ALIVE_MS = 65_000;
const PER_REQUEST_HEADERS = new Set(['x-request-id', 'content-length', 'date', 'connection', 'keep-alive', 'transfer-encoding', 'set-cookie', 'x-cache', WORKER_HEADER]);

export interface HttpHostOptions {
  readonly server: ServerConfig;
  readonly repositories: ReadonlyMap<string, RepositoryRuntime>;
  readonly dispatcher: Dispatcher;
  readonly authentication: Authentication;
  /** Whether a principal may read a repository (the root listing shows only those). */
  readonly canRead: (principal: Principal, repository: { readonly name: string; readonly anonymousRead?: boolean }) => boolean;
  readonly logger: Logger;
  /** Extra facts for the health endpoint. */
  readonly health: () => Record<string, unknown>;
  /** The management endpoints, mounted beside the repositories. */
  readonly adminApi?: AdminApi;
  /** The download analytics API (`/-/api/stats/...`). */
  readonly statsApi?: { mount(router: HostRouter): void };
  /** The web interface's JSON APIs (`/-/api/...`): sign-in and tokens, then repositories, packages, search. */
  readonly webApi?: { readonly sessions: WebSessions; readonly browse: BrowseApi; readonly accounts?: AccountsAdminApi; readonly maintenance?: MaintenanceAdminApi };
  /** A plugin's web app, served at its prefix and under `/-/web/`. */
  readonly webApp?: WebAppHost;
  /** Replay hot anonymous answers of small immutable files (off when logging every request). */
  readonly hotAnswers?: HotAnswers;
  /** Count a hit served by a replayed answer for the repository whose file it is. */
  readonly countHit?: (repository: string) => void;
  /** This registry's `Via` mark on its upstream requests: a request carrying it is a loop (508). */
  readonly loopMarker?: LoopMarker;
  /** The structured access log (`logging.accessLogFile`); absent: none. */
  readonly structuredLog?: AccessLog;
  /** Prometheus metrics of every request (`metrics.enabled`); absent: none. */
  readonly metrics?: RegistryMetrics;
  /** Counts the files sent to clients (download analytics); absent: nothing is counted. */
  readonly downloads?: DownloadRecorder;
  /** Log every request at info level (`logging.access`); otherwise at debug level. */
  readonly accessLog?: boolean;
}

/** Metrics labels of a request that reached no repository. */
const NO_REPOSITORY: RequestLabels = { repository: '', format: '' };

/**
 * How long a proxy's metadata may be replayed by the hot path: its metadata TTL; none when the
 * upstream's Cache-Control may set a shorter one (`honorCacheControl`).
 */
function metadataTtlMs(config: RepositoryRuntime['config']): number {
  return config.cache.honorCacheControl ? 0 : config.cache.metadataTtl * 1000;
}

/** The structured access log's fields of what was served: repository, format, package, version, cache result, user. */
function accessFields(labels: RequestLabels, download: Pick<DownloadEvent, 'name' | 'version'> | undefined, cache: string | undefined, user: string | undefined) {
  return {
    ...(labels.repository ? { repository: labels.repository, format: labels.format } : {}),
    ...(download ? { package: download.name, ...(download.version ? { version: download.version } : {}) } : {}),
    ...(cache ? { cache } : {}),
    ...(user ? { user } : {}),
  };
}

/** A request path as the access log shows it: no query, no token in the path. */
function loggedPath(path: string): string {
  const end = path.indexOf('?');
  // Some clients put secrets in paths (npm logout: /-/user/token/<token>).
  return (end < 0 ? path : path.slice(0, end)).replace(/\/token\/[^/]+/, '/token/[redacted]');
}

/**
 * The koa host: mounts every repository at `/{name}/`, serves `/-/health`, maps errors to
 * each format's error body, and shuts down gracefully (in-flight requests finish).
 */
export class HttpHost {
  readonly app = new Koa();
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Per repository: it and the repositories a group reads through (see madeFrom). */
  private readonly dependencies = new Map<string, readonly string[]>();
  private inFlight = 0;
  private draining = false;
  private readonly guard: ConnectionGuard;
  /** The direct front of the main port (`server.directReplies`); absent: off. */
  private direct: DirectReplies | undefined;

  constructor(private readonly options: HttpHostOptions) {
    this.guard = new ConnectionGuard(options.server, options.logger);
    this.app.proxy = options.server.trustProxy;
    this.app.silent = true;
    const router = new HostRouter();
    router.get('/-/health', (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.status = this.draining ? 503 : 200;
      ctx.body = { status: this.draining ? 'draining' : 'ok', ...options.health() };
    });
    options.adminApi?.mount(router);
    options.statsApi?.mount(router);
    options.webApi?.sessions.mount(router);
    options.webApi?.browse.mount(router);
    options.webApi?.accounts?.mount(router);
    options.webApi?.maintenance?.mount(router);
    options.webApp?.mount(router);
    router.get('/-/ping', (ctx) => {
      ctx.body = {};
    });
    // What is served here: names, formats, types and URLs of the repositories the caller may
    // read, never their config (which holds upstream credentials).
    router.get('/', async (ctx) => {
      // A browser gets the web interface's page, any other client the JSON list.
      ctx.vary('Accept');
      if (options.webApp?.wantsPage(ctx)) return options.webApp.servePage(ctx);
      ctx.set('Cache-Control', 'no-store');
      const principal = await options.authentication.authenticate(ctx.get('Authorization') || undefined, ctx.ip).catch(() => undefined);
      if (!principal) {
        ctx.status = 401;
        ctx.set('WWW-Authenticate', 'Basic realm="registry-core"');
        ctx.body = { error: 'bad credentials' };
        return;
      }
      const readable = [...options.repositories.values()].filter((r) => this.readable(principal, r));
      ctx.body = {
        name: 'registry-core',
        repositories: readable.map((r) => {
          const { name, format, type, url } = this.info(ctx, r);
          return { name, format, type, url };
        }),
      };
    });
    // Protocols clients address at the host root (OCI's /v2/): `<prefix>/<repository>/...`.
    for (const prefix of new Set([...options.repositories.values()].flatMap((r) => (r.format.hostRoot ? [r.format.hostRoot.prefix] : [])))) {
      router.all(prefix, (ctx) => this.serveHostRoot(ctx, prefix));
      router.all(`${prefix}/{*rest}`, (ctx) => this.serveHostRoot(ctx, prefix));
    }
    router.all('/:repository', (ctx, params) => this.serveMounted(ctx, params['repository'] as string));
    router.all('/:repository/{*rest}', (ctx, params) => this.serveMounted(ctx, params['repository'] as string));
    this.app.use(async (ctx, next) => {
      this.inFlight++;
      const started = performance.now();
      const requestId = ctx.get('X-Request-Id').slice(0, 64) || randomUUID();
      ctx.state['requestId'] = requestId;
      ctx.set('X-Request-Id', requestId);
      if (this.draining) ctx.set('Connection', 'close');
      try {
        await next();
      } finally {
        this.inFlight--;
        this.logRequest(requestId, ctx.method, ctx.path, ctx.status, started);
        const labels = (ctx.state['labels'] as RequestLabels | undefined) ?? NO_REPOSITORY;
        const cache = ctx.response.get('X-Cache') || undefined;
        this.options.metrics?.request(labels, ctx.method, ctx.status, (performance.now() - started) / 1000, ctx.response.length, Number(ctx.get('Content-Length')) || undefined, cache);
        this.options.structuredLog?.write({
          requestId,
          method: ctx.method,
          path: loggedPath(ctx.path),
          status: ctx.status,
          ...(ctx.response.length !== undefined && ctx.method !== 'HEAD' ? { bytes: ctx.response.length } : {}),
          ms: Math.round(performance.now() - started),
          ...accessFields(labels, ctx.state['download'] as DownloadEvent | undefined, cache, ctx.state['user'] as string | undefined),
        });
      }
    });
    // A repository's own port: every path is the repository's.
    this.app.use(async (ctx, next) => {
      const bound = this.boundPorts.get(ctx.req.socket.localPort ?? -1);
      if (!bound) return next();
      const runtime = options.repositories.get(bound)!;
      const origin = `${ctx.protocol}://${ctx.host}`;
      const prefix = runtime.format.hostRoot?.prefix;
      await this.serveRepository(ctx, runtime, ctx.path || '/', `${origin}/`, prefix ? { url: `${origin}${prefix}/`, namePrefix: '' } : undefined);
    });
    this.app.use(router.middleware());
    this.app.use((ctx) => {
      ctx.status = 404;
      ctx.body = { error: 'not found' };
    });
  }

  /** The access log's line of one request: one line, never a query or a credential. */
  private logRequest(requestId: string, method: string, path: string, status: number, started: number): void {
    const fields = { requestId, method, path: loggedPath(path), status, ms: Math.round(performance.now() - started) };
    if (this.options.accessLog) this.options.logger.info('request', fields);
    else this.options.logger.debug('request', fields);
  }

  /** Repository facts as clients see them from this request's host. */
  info(ctx: Context | undefined, runtime: RepositoryRuntime): RepositoryInfo {
    const own = [...this.boundPorts].find(([, name]) => name === runtime.name)?.[0];
    return repositoryInfo(runtime, own !== undefined && !ctx ? this.baseUrl(undefined, runtime.name).replace(/:\d+\/[^/]+\/$/, `:${own}/`) : this.baseUrl(ctx, runtime.name));
  }

  /** Where the web interface's page is, as the server's own address shows it; undefined without one. */
  webUrl(): string | undefined {
    const app = this.options.webApp;
    return app ? `${this.baseUrl(undefined, '').replace(/\/+$/, '')}${app.prefix}` : undefined;
  }

  baseUrl(ctx: Context | undefined, repository: string): string {
    const { publicUrl, host, port } = this.options.server;
    if (publicUrl) return `${publicUrl.replace(/\/+$/, '')}/${repository}/`;
    if (ctx) return `${ctx.protocol}://${ctx.host}/${repository}/`;
    const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
    return `http://${shownHost}:${this.port ?? port}/${repository}/`;
  }

  private async serveMounted(ctx: Context, name: string): Promise<void> {
    const runtime = this.options.repositories.get(name);
    if (!runtime) {
      ctx.status = 404;
      ctx.body = { error: `no repository named ${name}` };
      return;
    }
    // koa's ctx.path is still percent-encoded: formats see `@scope%2fname` as sent.
    const rawPath = ctx.path.slice(name.length + 1) || '/';
    const baseUrl = this.baseUrl(ctx, name);
    const prefix = runtime.format.hostRoot?.prefix;
    await this.serveRepository(ctx, runtime, rawPath, baseUrl, prefix ? { url: `${baseUrl}${prefix.replace(/^\/+/, '')}/`, namePrefix: '' } : undefined);
  }

  /**
   * `<prefix>/<repository>/<rest>` as that repository's `<prefix>/<rest>`; the bare
   * `<prefix>/` (a client's version check) through the first repository of a format with
   * that prefix.
   */
  private async serveHostRoot(ctx: Context, prefix: string): Promise<void> {
    const candidates = [...this.options.repositories.values()].filter((r) => r.format.hostRoot?.prefix === prefix);
    const rest = ctx.path.slice(prefix.length);
    const first = rest.split('/')[1] ?? '';
    const origin = this.options.server.publicUrl?.replace(/\/+$/, '') ?? `${ctx.protocol}://${ctx.host}`;
    const named = candidates.find((r) => r.name === first);
    if (named) {
      const inner = rest.slice(first.length + 1);
      await this.serveRepository(ctx, named, `${prefix}${inner.startsWith('/') ? inner : `/${inner}`}`, this.baseUrl(ctx, named.name), {
        url: `${origin}${prefix}/${named.name}/`,
        namePrefix: `${named.name}/`,
      });
      return;
    }
    const root = candidates[0]!;
    if (first === '') {
      await this.serveRepository(ctx, root, `${prefix}/`, this.baseUrl(ctx, root.name), { url: `${origin}${prefix}/`, namePrefix: '' });
      return;
    }
    const hostRoute = root.format.hostRoot?.hostRoutes?.find((r) => r.method === ctx.method && r.path === rest);
    if (hostRoute) {
      await this.serveHostRoute(ctx, hostRoute, root, candidates, `${origin}${prefix}/`);
      return;
    }
    const logger = this.options.logger.child({ requestId: ctx.state['requestId'] as string });
    this.writeError(ctx, root, new NotFoundError(`no repository named ${first.slice(0, 64)}: names here start with a repository's name`, 'REPOSITORY_UNKNOWN'), logger);
  }

  /** Whether `principal` may read `runtime` (what the host's own listings show). */
  private readable(principal: Principal, runtime: RepositoryRuntime): boolean {
    return this.options.canRead(principal, { name: runtime.name, ...(runtime.config.anonymousRead !== undefined ? { anonymousRead: runtime.config.anonymousRead } : {}) });
  }

  /**
   * A host-root path that is the host's (OCI's `/v2/_catalog`): the format's handler answers
   * from what each readable repository of the format answers, addressed at the host root.
   */
  private async serveHostRoute(ctx: Context, route: HostRootRoute, root: RepositoryRuntime, candidates: readonly RepositoryRuntime[], rootUrl: string): Promise<void> {
    const requestId = ctx.state['requestId'] as string;
    const logger = this.options.logger.child({ requestId });
    try {
      const principal = await this.options.authentication.authenticate(this.credentials(ctx, root), ctx.ip);
      const prefix = root.format.hostRoot!.prefix;
      const ask = async (runtime: RepositoryRuntime, path: string, query: URLSearchParams) => {
        const repositoryLogger = logger.child({ repository: runtime.name });
        try {
          const response = await this.options.dispatcher.dispatch(runtime, {
            method: 'GET',
            path: `${prefix}${path}`,
            query,
            headers: ctx.headers as Record<string, string | undefined>,
            principal,
            baseUrl: this.baseUrl(ctx, runtime.name),
            clientAddress: ctx.ip,
            requestId,
            logger: repositoryLogger,
            hostRoot: { url: `${rootUrl}${runtime.name}/`, namePrefix: `${runtime.name}/` },
          });
          const status = response.status ?? 200;
          return status >= 200 && status < 300 ? [{ repository: runtime.name, response }] : [];
        } catch (error) {
          repositoryLogger.debug('left out of a host-root answer', { path, error: String((error as Error)?.message ?? error) });
          return [];
        }
      };
      const response = await route.handler({
        query: new URLSearchParams(ctx.querystring),
        principal,
        hostRoot: { url: rootUrl, namePrefix: '' },
        logger,
        eachRepository: async (path, query = new URLSearchParams()) => {
          const mine = candidates.filter((r) => r.format === root.format && this.readable(principal, r));
          return (await Promise.all(mine.map((runtime) => ask(runtime, path, query)))).flat();
        },
      });
      await writeResponse(ctx, response);
    } catch (error) {
      this.writeError(ctx, root, error, logger);
    }
  }

  private async serveRepository(ctx: Context, runtime: RepositoryRuntime, rawPath: string, baseUrl: string, hostRoot: HostRootAddress | undefined): Promise<void> {
    const name = runtime.name;
    ctx.state['labels'] = { repository: name, format: runtime.config.format } satisfies RequestLabels;
    const requestId = ctx.state['requestId'] as string;
    const logger = this.options.logger.child({ requestId, repository: name });
    // Before anything is read: an answer made while its repositories changed is not replayed.
    const since = this.options.hotAnswers?.mark();
    try {
      const principal = await this.principal(ctx, runtime, rawPath);
      ctx.state['user'] = principal.anonymous ? 'anonymous' : principal.name;
      const decisions: AccessDecision[] = [];
      const response = await this.options.dispatcher.dispatch(runtime, {
        method: ctx.method,
        path: rawPath,
        query: new URLSearchParams(ctx.querystring),
        headers: ctx.headers as Record<string, string | undefined>,
        principal,
        baseUrl,
        clientAddress: ctx.ip,
        requestId,
        logger,
        raw: ctx.req,
        decisions,
        ...(hostRoot ? { hostRoot } : {}),
      });
      await writeResponse(ctx, response);
      const download = this.options.downloads?.served(ctx, runtime, rawPath, response);
      ctx.state['download'] = download;
      // Replayed answers are keyed by URL on the main port only.
      if (!this.boundPorts.has(ctx.req.socket.localPort ?? -1)) this.rememberHot(ctx, runtime, since, principal, decisions, response.cache, download);
    } catch (error) {
      this.writeError(ctx, runtime, error, logger);
    }
  }

  /**
   * Who asks, by the request's credentials (a 401 when they are refused). A route that
   * judges the credentials in its body (a login, `credentials: 'body'`) is not refused for
   * a header that no longer holds (a revoked token left in the client's config): it runs
   * as anonymous, and the body's credentials decide.
   */
  private async principal(ctx: Context, runtime: RepositoryRuntime, rawPath: string): Promise<Principal> {
    try {
      return await this.options.authentication.authenticate(this.credentials(ctx, runtime), ctx.ip);
    } catch (error) {
      if (!isRegistryError(error) || error.status !== 401) throw error;
      const found = runtime.router.find(ctx.method, rawPath);
      if (typeof found === 'object' && found.route.credentials === 'body') return ANONYMOUS;
      throw error;
    }
  }

  /** The `Authorization` header, or a token from one of the format's own credential headers. */
  private credentials(ctx: Context, runtime: RepositoryRuntime): string | undefined {
    const authorization = ctx.get('Authorization');
    // Cargo's raw token: one word, no scheme.
    if (authorization && runtime.format.bareTokenAuthorization && !/\s/.test(authorization.trim())) return `Bearer ${authorization.trim()}`;
    if (authorization) return authorization;
    for (const header of runtime.format.credentialHeaders ?? []) {
      const value = ctx.get(header).trim();
      if (value) return `Bearer ${value}`;
    }
    return undefined;
  }

  /**
   * Keep a GET answer that writeResponse marked replayable (see hot-answers.ts): anonymous,
   * or authenticated by a stored token with the permission decisions it was made under.
   */
  private rememberHot(ctx: Context, runtime: RepositoryRuntime, since: number | undefined, principal: Principal, decisions: readonly AccessDecision[], cache: string | undefined, download: DownloadEvent | undefined): void {
    const candidate = ctx.state['hotAnswer'] as HotCandidate | undefined;
    const hot = this.options.hotAnswers;
    if (!hot || !candidate || ctx.method !== 'GET' || ctx.status !== 200 || cache === 'STALE' || !hot.eligible(ctx.req)) return;
    // Every header the answer carried (a format's own, the member that answered), but those
    // of this one request and of the connection.
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(ctx.response.headers)) {
      if (PER_REQUEST_HEADERS.has(name.toLowerCase()) || value === undefined) continue;
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    // Replayed from the cache: a HIT, whatever the first answer was.
    if (cache !== undefined) headers['x-cache'] = 'HIT';
    const { countHit, downloads } = this.options;
    const replayed = download && downloads ? downloads.replayer(download) : undefined;
    const hitRepository = candidate.repository;
    const onHit = (bytesSent: number) => {
      if (hitRepository !== undefined) countHit?.(hitRepository);
      replayed?.(bytesSent);
    };
    const labels = ctx.state['labels'] ? { labels: ctx.state['labels'] as RequestLabels } : {};
    const repositories = this.madeFrom(runtime);
    // A proxy's document is asked of its upstream again once its metadata TTL is over: not
    // replayed for longer than the shortest of them.
    const ttlMs = candidate.metadata ? Math.min(...repositories.map((name) => this.options.repositories.get(name)).map((r) => (r?.config.type === 'proxy' ? metadataTtlMs(r.config) : Infinity))) : Infinity;
    hot.remember(
      ctx.req,
      {
        headers,
        etag: candidate.etag,
        bytes: candidate.bytes,
        onHit,
        repositories,
        ...(Number.isFinite(ttlMs) ? { ttlMs } : {}),
        ...(candidate.vary ? { vary: candidate.vary } : {}),
        ...labels,
        ...(download ? { download } : {}),
        ...(principal.anonymous ? {} : { decisions }),
      },
      principal.anonymous ? undefined : principal,
      since,
    );
  }

  /** `runtime` and, for a group, every repository it reads through (members of members too). */
  private madeFrom(runtime: RepositoryRuntime): readonly string[] {
    let known = this.dependencies.get(runtime.name);
    if (known) return known;
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      for (const member of this.options.repositories.get(name)?.config.members ?? []) visit(member);
    };
    visit(runtime.name);
    known = [...seen];
    this.dependencies.set(runtime.name, known);
    return known;
  }

  private writeError(ctx: Context, runtime: RepositoryRuntime, error: unknown, logger: Logger): void {
    const known = isRegistryError(error);
    // A client that went away (closed its connection mid-request) is no server error: the
    // answer below goes nowhere.
    // (`req.socket` can be null here, e.g. once a body parser has let go of the request.)
    const socket = ctx.res.socket ?? ctx.req.socket;
    const clientGone = (socket?.destroyed ?? false) || ctx.res.destroyed || ctx.res.writableEnded;
    if (clientGone) logger.debug('client went away', { error: String((error as Error)?.message ?? error) });
    else if (!known) logger.error('unhandled error', { error: String((error as Error)?.stack ?? error) });
    const status = known ? error.status : 500;
    const info = { status, code: known ? error.code : 'INTERNAL', message: known ? error.message : 'internal error' };
    const rendered = runtime.format.errorBody?.(info) ?? { contentType: 'application/json', body: JSON.stringify({ error: info.message }) };
    if (known) for (const [k, v] of Object.entries(error.headers)) ctx.set(k, v);
    if (status === 401 && !(known && Object.keys(error.headers).some((h) => h.toLowerCase() === 'www-authenticate'))) {
      const challenge = runtime.format.authChallenge?.(this.info(ctx, runtime)) ?? `Basic realm="registry-core"`;
      ctx.set('WWW-Authenticate', challenge);
    }
    ctx.remove('ETag');
    ctx.remove('Cache-Control');
    ctx.status = status;
    ctx.type = rendered.contentType;
    ctx.body = ctx.method === 'HEAD' ? null : rendered.body;
    if (ctx.method === 'HEAD') ctx.status = status;
    const reason = 'reasonPhrase' in rendered && typeof rendered.reasonPhrase === 'string' ? rendered.reasonPhrase.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 200) : '';
    if (reason) ctx.message = reason;
    // A refused body is left to Node, which reads and discards the rest so the client gets
    // the answer intact (closing with unread data resets the connection and the client may
    // see ECONNRESET instead of a 413). Only a huge body is cut off by closing.
    if (status === 413 && Number(ctx.get('Content-Length')) > 1024 ** 3) ctx.set('Connection', 'close');
  }

  async listen(): Promise<AddressInfo> {
    // Uploads may take long but not forever: a whole request gets 30 minutes, a socket
    // that moves no byte for 2 minutes is closed, and a body slower than
    // `server.minBodyRate` is refused (a client trickling a body cannot hold sockets, file
    // descriptors and spill files indefinitely).
    const koa = this.app.callback();
    const hot = this.options.hotAnswers;
    const workerSlot = WorkerLink.current()?.slot;
    const server = http.createServer({ requestTimeout: 30 * 60_000, headersTimeout: 60_000, keepAliveTimeout: KEEP_ALIVE_MS }, (req, res) => {
      if (workerSlot !== undefined) res.setHeader(WORKER_HEADER, String(workerSlot));
      if (this.guard.refuse(req, res) || this.refuseLoop(req, res)) return;
      this.guard.watchBody(req, res);
      if (hot && !this.draining) {
        const started = performance.now();
        let replay;
        try {
          replay = hot.serve(req, res);
        } catch (error) {
          // A defect of the replay's: the full path answers instead, if nothing was sent yet.
          this.replayFailed(error);
          if (res.headersSent) return void res.destroy();
        }
        if (replay) return this.replayed(req, replay, started, 'node');
      }
      void koa(req, res);
    });
    this.prepare(server);
    if (hot && this.options.server.directReplies !== false) this.putDirectRepliesInFront(server, hot, workerSlot);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.server.port, this.options.server.host, () => resolve());
    });
    for (const runtime of this.options.repositories.values()) {
      if (runtime.config.port === undefined) continue;
      const extra = http.createServer({ requestTimeout: 30 * 60_000, headersTimeout: 60_000, keepAliveTimeout: 65_000 }, (req, res) => {
        if (this.guard.refuse(req, res) || this.refuseLoop(req, res)) return;
        this.guard.watchBody(req, res);
        void koa(req, res);
      });
      this.prepare(extra);
      await new Promise<void>((resolve, reject) => {
        extra.once('error', (error) => reject(new Error(`repository ${runtime.name}: cannot listen on port ${runtime.config.port}: ${error.message}`)));
        extra.listen(runtime.config.port, this.options.server.host, () => resolve());
      });
      const port = (extra.address() as AddressInfo).port;
      this.boundPorts.set(port, runtime.name);
      this.extraServers.push(extra);
      this.options.logger.info(`repository ${runtime.name} listening on port ${port}`);
    }
    return server.address() as AddressInfo;
  }

  /** A replay that threw (a defect of this process's), on either writer. */
  private replayFailed(error: unknown): void {
    this.options.logger.error('a hot answer could not be replayed', { error: error instanceof Error ? error.message : String(error) });
  }

  /** The access log, metrics and structured log of an answer the hot path replayed. */
  private replayed(req: HotRequest, replay: Replay, started: number, writer: 'direct' | 'node'): void {
    const method = req.method ?? 'GET';
    this.logRequest(replay.requestId, method, req.url ?? '/', replay.status, started);
    const length = method === 'HEAD' ? undefined : replay.status === 304 ? 0 : replay.length;
    const cache = replay.answer.headers['x-cache'];
    const labels = replay.answer.labels ?? NO_REPOSITORY;
    this.options.metrics?.request(labels, method, replay.status, (performance.now() - started) / 1000, length, undefined, cache);
    this.options.metrics?.replay(writer);
    this.options.structuredLog?.write({
      requestId: replay.requestId,
      method,
      path: loggedPath(req.url ?? '/'),
      status: replay.status,
      ...(length !== undefined ? { bytes: length } : {}),
      ms: Math.round(performance.now() - started),
      ...accessFields(labels, replay.answer.download, cache, replay.user),
    });
  }

  /**
   * Let the direct front (direct-replies.ts) see each new connection of `server` first: it
   * writes replays straight to the socket and gives the connection to Node's HTTP server at
   * the first request it does not answer itself.
   */
  private putDirectRepliesInFront(server: http.Server, hot: HotAnswers, workerSlot: number | undefined): void {
    const direct = new DirectReplies({
      hot,
      replayed: (req, replay, started) => this.replayed(req, replay, started, 'direct'),
      fullPath: (socket) => this.draining || this.guard.isRefused(socket),
      failed: (error) => this.replayFailed(error),
      ...(workerSlot !== undefined ? { extraHeaders: { [WORKER_HEADER]: String(workerSlot) } } : {}),
      keepAliveTimeoutMs: KEEP_ALIVE_MS,
    });
    // Another Node whose server is built otherwise: everything goes through Node's HTTP server.
    if (!direct.stepInFront(server)) return;
    this.direct = direct;
  }

  /**
   * 508 for a request this registry sent upstream itself (its `Via` mark): a proxy whose
   * upstream leads back here would otherwise ask itself again for every answer, without end.
   */
  private refuseLoop(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const marker = this.options.loopMarker;
    if (!marker || !marker.seenIn(req.headers.via)) return false;
    this.options.logger.warn('refused a request this registry sent upstream itself: a proxy\'s upstream leads back here', { path: (req.url ?? '').slice(0, 200) });
    const body = JSON.stringify({ error: `loop detected: this request came from this registry (${marker.pseudonym}); a proxy's upstream leads back to this registry` });
    res.writeHead(508, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(body);
    return true;
  }

  /** What every listening server of this host shares: timeouts, connection tracking and limits. */
  private prepare(server: http.Server): void {
    server.setTimeout(120_000);
    // A client that half-closes after sending its request (shutdown(SHUT_WR)) still gets
    // its answer; Node's default would end the connection and drop the answer.
    (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      this.guard.track(socket);
    });
  }

  /** Repositories served on a port of their own, by port. */
  readonly boundPorts = new Map<number, string>();
  private readonly extraServers: http.Server[] = [];

  get port(): number | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  /** Stop accepting, let in-flight requests finish (up to the timeout), then close. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.draining = true;
    const closed = Promise.all([server, ...this.extraServers].map((one) => new Promise<void>((resolve) => one.close(() => resolve()))));
    for (const extra of this.extraServers) extra.closeIdleConnections();
    server.closeIdleConnections();
    this.direct?.closeIdle();
    const deadline = Date.now() + this.options.server.shutdownTimeoutSeconds * 1000;
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      server.closeIdleConnections();
    }
    server.closeAllConnections();
    this.direct?.closeAll();
    this.direct = undefined;
    for (const extra of this.extraServers) extra.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
    await this.options.structuredLog?.close();
    this.server = undefined;
    this.extraServers.length = 0;
    this.boundPorts.clear();
  }
}

